#!/usr/bin/env python
"""Train a painting agent (LSTM policy, WGAN-GP critic, optional MSE, template preconditioning).

    python recipes/train_agent.py --preset cpu --dataset mnist --untrained-painter --max-minutes 15 --export
    python recipes/train_agent.py --preset smoke --dataset kanji --untrained-painter
    python recipes/train_agent.py --preset paper --dataset kmnist --root data/kmnist --resume
    torchrun --nproc_per_node 2 recipes/train_agent.py --preset paper --dataset celeba --root data/celeba

Datasets: mnist, kanji, faces ship with installed packages; kmnist and celeba read ``--root`` (see
strokeparam/agents/datasets.py for the file layout). Checkpoints go to ``--run`` every few minutes and
at the end; ``--resume`` continues a killed run. ``--no-precondition`` trains MNIST without templates.
"""
import sys

from strokeparam.agents.training import main

POLICY_SMALL = dict(channels=8, hidden=32, blocks=1)
POLICY = dict(channels=32, hidden=256, blocks=2)
PRESETS = {
    # a few seconds: every code path (preconditioning, fresh critic fakes) on tiny nets
    "smoke": dict(steps=2, batch_size=4, strokes=4, lr=1e-3, critic_lr=1e-4, warmup=0, log_every=1,
                  critic_steps=5, fresh_critic_fakes=True, painter_draws=True, gp_weight=10.0, adv_weight=1.0, mse_weight=1.0,
                  mse_levels=2, precondition_steps=1, forcing_weight=1.0, forcing_decay_steps=1,
                  forcing_floor=0.0, agreement_weight=1.0, agreement_margin=0.03, only_template=False,
                  mirror=False, jitter=0.0, background=[1.0, 1.0, 1.0],
                  policy=POLICY_SMALL, critic=dict(channels=8)),
    # ~20 minutes on one core: MSE-led, a light critic trained on slices of the policy's rollouts, the
    # agreement loss keeps the templates' order and direction
    "cpu": dict(steps=3000, batch_size=16, strokes=8, lr=1e-3, critic_lr=1e-4, warmup=50, log_every=25,
                critic_steps=5, fresh_critic_fakes=False, painter_draws=True, gp_weight=10.0, adv_weight=0.001, mse_weight=1.0,
                mse_levels=4, precondition_steps=100, forcing_weight=1.0, forcing_decay_steps=300,
                forcing_floor=0.0, agreement_weight=1.0, agreement_margin=0.03, only_template=False,
                mirror=False, jitter=0.0, background=[1.0, 1.0, 1.0],
                policy=dict(channels=16, hidden=128, blocks=1), critic=dict(channels=16)),
    # the paper's recipe: adversarial, 5 fresh critic steps, preconditioning then decayed forcing
    "paper": dict(steps=100_000, batch_size=64, strokes=8, lr=1e-4, critic_lr=1e-4, warmup=500, log_every=100,
                  critic_steps=5, fresh_critic_fakes=True, painter_draws=True, gp_weight=10.0, adv_weight=1.0, mse_weight=0.0,
                  mse_levels=1, precondition_steps=5000, forcing_weight=1.0, forcing_decay_steps=20_000,
                  forcing_floor=0.0, agreement_weight=0.0, agreement_margin=0.03, only_template=False,
                  mirror=False, jitter=0.0, background=[1.0, 1.0, 1.0],
                  policy=POLICY, critic=dict(channels=64)),
}

if __name__ == "__main__":
    sys.exit(main(PRESETS))
