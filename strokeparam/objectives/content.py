"""The content loss of neural style transfer, with the content image riding in the painting's batch.

The content image must see the same random transform as the painting at every step. So it travels in the
same batch: :func:`with_content` wraps a ``param_f`` so that ``image_f()`` returns the paintings followed by
the content image(s), resized to the painting; batch-wide transforms (``same_on_batch=True``, and all of
Lucent's) then move both alike. :func:`content` compares the two parts of each layer's activations. Other
objectives in the same run see the content images too: give them ``batch=`` to pick the paintings only.
"""

import torch
import torch.nn.functional as F

from .base import Objective


def _as_images(image):
    if not torch.is_tensor(image) or image.dim() not in (3, 4) or image.shape[-3] not in (1, 3):
        raise ValueError(f"content image must be a tensor (3, H, W) or (N, 3, H, W) in [0, 1], got {image!r:.80}")
    return (image if image.dim() == 4 else image[None]).float()


def with_content(param_f, image):
    """Wrap ``param_f`` so that its ``image_f()`` appends ``image`` (resized) to the painting batch."""
    image = _as_images(image)

    def wrapped():
        params, image_f = param_f()

        def image_f_with_content():
            painting = image_f()
            extra = image.to(painting)
            if extra.shape[-2:] != painting.shape[-2:]:
                extra = F.interpolate(extra, size=painting.shape[-2:], mode="bilinear", antialias=True)
            return torch.cat([painting, extra.expand(-1, painting.shape[1], -1, -1)])

        return params, image_f_with_content

    return wrapped


def content(image, layers, weights=None):
    """Weighted sum over ``layers`` of the mean squared difference between painting and content activations.

    Expects the batch that :func:`with_content` (with the same ``image``) builds: the last ``len(image)``
    entries are the content images, each painting before them is compared with the one content image or with
    its own (as many content images as paintings).
    """
    n_content = _as_images(image).shape[0]
    layers = [layers] if isinstance(layers, str) else list(layers)
    weights = [1.0] * len(layers) if weights is None else [float(w) for w in weights]
    if not layers or len(weights) != len(layers):
        raise ValueError(f"content needs layer names and one weight per layer, got {layers} and {weights}")

    def inner(T):
        loss = 0.0
        for layer, weight in zip(layers, weights):
            acts = T(layer)
            n_paint = acts.shape[0] - n_content
            if n_paint < 1 or n_content not in (1, n_paint):
                raise ValueError(
                    f"layer {layer!r} has batch {acts.shape[0]}; expected paintings followed by {n_content} "
                    "content image(s) (wrap param_f with with_content)"
                )
            loss = loss + weight * (acts[:n_paint] - acts[n_paint:].detach()).pow(2).mean()
        return loss

    return Objective(inner, "content", f"Content [{', '.join(layers)}]")
