#!/usr/bin/env python
"""Train the GAN painter: a conditional WGAN-GP with a decaying masked reconstruction term.

    python recipes/train_gan_painter.py --preset cpu --data data/strokes --resume --export
    torchrun --nproc_per_node 2 recipes/train_gan_painter.py --preset paper --data data/strokes --resume

Each step trains the critic on ``critic_steps`` batches (Wasserstein loss + gradient penalty on
interpolated strokes, weight ``gp``), then the generator on one more batch: adversarial loss plus
``rec_weight * 0.5 ** (step / rec_half_life)`` times an L1 reconstruction loss masked to the inked pixels
of the real stroke (plus ``mask_floor`` elsewhere).

Presets: ``paper`` and ``deconv-cpu`` train the paper's generator (``arch="deconv"``); ``cpu`` (the shipped
painter) trains ``arch="skeleton"``, the skeleton painter's dab model with per-dab noise, started from the
shipped skeleton weights (``init="skeleton"``) with ``dabs`` dabs per stroke and MyPaint-like ``jitter``
(calibrated on MyPaint renders: 128 dabs at jitter 0.9 start at MyPaint's sharpness). Its reconstruction
term scores the plain, noise-free stroke (``rec_plain``): the mean stroke stays MyPaint's while the critic
shapes the draws' texture.
"""
import sys

from strokeparam.painters.recipe import main
from strokeparam.painters.tasks import GANTask

COMMON = dict(gp=10.0, critic_steps=5, lr=1e-4, betas=(0.5, 0.9), rec_weight=10.0, mask_floor=0.1,
              arch="deconv", init=None, rec_plain=False, critic_lr=None)
SKELETON = dict(COMMON, arch="skeleton", init="skeleton", rec_plain=True, noise_dim=4, dim=16, dabs=128,
                jitter=0.9, draw_gain=1.35)
PRESETS = {
    "smoke": dict(SKELETON, steps=3, batch_size=8, dim=4, rec_half_life=2, log_every=1),
    "cpu": dict(SKELETON, steps=1200, batch_size=64, lr=2e-4, critic_lr=1e-4, rec_weight=10.0,
                rec_half_life=10 ** 9, log_every=25),
    "deconv-cpu": dict(COMMON, steps=3000, batch_size=32, dim=16, noise_dim=8, lr=2e-4, rec_half_life=1000,
                       log_every=25),
    "paper": dict(COMMON, steps=100000, batch_size=64, dim=16, noise_dim=8, rec_half_life=20000, log_every=100),
}

if __name__ == "__main__":
    sys.exit(main(GANTask, PRESETS))
