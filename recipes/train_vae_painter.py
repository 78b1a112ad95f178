#!/usr/bin/env python
"""Train the paper's VAE painter in two stages, then fine-tune the pair end to end.

    python recipes/train_vae_painter.py --preset cpu --data data/strokes --resume --export

Stage 1 (``vae_steps``): a VAE over stroke images, binary cross-entropy reconstruction plus KL with free
bits (each latent dimension's KL counts at least ``free_bits`` nats). Stage 2 (``mlp_steps``): the action
→ latent MLP learns to predict the frozen encoder's posterior (KL(q(z|stroke) || p(z|action))).
Stage 3 (``finetune_steps``, not in the paper): the action → latent MLP and the decoder together learn
MyPaint's stroke from the action (binary cross-entropy of the painted stroke), so the errors of the two
networks stop adding up. ``init="vae"`` starts from the shipped VAE painter (stages 1 and 2 done).
"""
import sys

from strokeparam.painters.recipe import main
from strokeparam.painters.tasks import VAETask

PRESETS = {
    "smoke": dict(vae_steps=3, mlp_steps=3, finetune_steps=3, batch_size=8, width=4, lr=1e-3,
                  finetune_lr=1e-3, free_bits=0.25, init=None, log_every=1),
    "cpu": dict(vae_steps=3000, mlp_steps=2000, finetune_steps=20000, batch_size=64, width=16, lr=1e-3,
                finetune_lr=5e-4, free_bits=0.25, init=None, log_every=25),
    "paper": dict(vae_steps=50000, mlp_steps=50000, finetune_steps=0, batch_size=64, width=32, lr=1e-4,
                  finetune_lr=1e-4, free_bits=0.25, init=None, log_every=100),
}

if __name__ == "__main__":
    sys.exit(main(VAETask, PRESETS))
