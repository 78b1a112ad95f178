"""LSTM painting agents: reconstruct images stroke by stroke through a neural painter (SPIRAL without RL).

``reconstruct(image)`` paints an image with a trained agent; ``load_agent()`` loads a shipped one;
``PaintingAgent`` is the model, trained by ``recipes/train_agent.py``. See docs/agents.md.
"""
from .agent import INKS, Painting, PaintingAgent, Policy, apply_ink
from .api import reconstruct
from .critic import Critic, gradient_penalty
from .datasets import DATASETS, ImageSet, load_dataset
from .order import kanji_scores, template_scores
from .templates import Templates, forcing_loss, load_templates, render_actions
from .weights_io import load_agent, save_agent

__all__ = ["INKS", "Painting", "PaintingAgent", "Policy", "apply_ink", "reconstruct", "Critic",
           "gradient_penalty", "DATASETS", "ImageSet", "load_dataset", "kanji_scores", "template_scores",
           "Templates", "forcing_loss", "load_templates", "render_actions", "load_agent", "save_agent"]
