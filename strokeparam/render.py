"""render_vis: the optimization loop, a superset of Lucent's signature that works without Lucent."""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .objectives import Hook, as_objective
from .progress import progress as progress_bar

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def render_vis(model, objective=None, param=None, param_f=None, optimizer=None, transforms=None,
               thresholds=(512,), preprocess: bool = False, progress: bool = True, device=None,
               seed: int | None = None, fixed_image_size=None, show_image: bool = False,
               save_image: bool = False, image_name: str | None = None, verbose: bool = False,
               show_inline: bool = False, objective_f=None, scheduler=None):
    """Optimize a parameterization so that ``model`` maximizes ``objective``; Lucent's loop, with extras.

    - ``objective``: a Lucent string ("labels:388", "layer:channel", "labels:giant panda"), a Lucent or
      strokeparam Objective, or a callable ``f(T) -> loss`` (minimized; ``T(layer)`` is the layer's output).
    - ``param``: a :class:`BrushstrokeParam` (default: a new one), or Lucent's ``param_f`` — anything that
      returns ``(params, image_f)``.
    - ``optimizer``: a function ``params -> torch.optim.Optimizer`` (default Adam, lr 0.05);
      ``scheduler``: a function ``optimizer -> learning-rate scheduler`` (``torch.optim.lr_scheduler``),
      stepped after every optimizer step (default none: a constant rate).
    - ``transforms``: a callable or a list of callables on NCHW images (default
      :func:`strokeparam.transforms.standard` seeded with ``seed``).
    - ``preprocess``: ImageNet mean/std normalization before the model. A model that normalizes its own
      input (strokeparam's classifiers: ``normalizes_input``) is never normalized twice: there
      ``preprocess=True``, Lucent's default, does nothing (with a one-time warning). Images under 224 px
      are upsampled to 224 as in Lucent, unless ``fixed_image_size`` is given.
    - Lucent's keywords all work: ``objective_f`` is another name for ``objective``; ``show_image``,
      ``save_image``/``image_name`` and ``show_inline`` (displays in a notebook) show the last images.

    Returns the images at each threshold, in the order the thresholds are given: a list of numpy
    (batch, H, W, 3) in [0, 1]. The param keeps the final strokes. Ctrl-C stops early and returns what
    there is.
    """
    from .param import BrushstrokeParam
    if param is not None and param_f is not None:
        raise ValueError("pass param= or param_f=, not both")
    if (objective is None) == (objective_f is None):
        raise ValueError("pass the objective once: objective= (or Lucent's name, objective_f=)")
    objective = objective if objective_f is None else objective_f
    preprocess = preprocess and not skips_preprocess(model)
    param_f = param if param is not None else param_f
    thresholds = tuple(int(t) for t in thresholds)
    if not thresholds or min(thresholds) < 0:
        raise ValueError(f"thresholds must be non-negative step counts, got {thresholds!r}")
    device = torch.device(device) if device is not None else _device_of(model)
    model = model.to(device).eval()
    if param_f is None:
        param_f = BrushstrokeParam(seed=seed, device=device)
    elif isinstance(param_f, torch.nn.Module):
        param_f.to(device)
    if not callable(param_f):
        raise ValueError(f"param must be a BrushstrokeParam or a param_f returning (params, image_f), got {param_f!r}")
    params, image_f = param_f()
    opt = torch.optim.Adam(params, lr=0.05) if optimizer is None else optimizer(params)
    for group in getattr(opt, "param_groups", []):
        lr = group.get("lr")
        if lr is not None and not (np.isfinite(float(lr)) and float(lr) >= 0):
            raise ValueError(f"the optimizer's learning rate must be a finite number >= 0, got {float(lr)}")
    schedule = None if scheduler is None else scheduler(opt)
    transform = _compose(transforms, seed, preprocess, fixed_image_size)
    objective_f = as_objective(objective)
    images = {}
    hook = Hook(model, image_f)
    bar = progress_bar(range(1, max(thresholds) + 1), disable=not progress, desc="render_vis", leave=False,
                       unit="step")
    try:
        if 0 in thresholds:
            images[0] = _to_numpy(image_f())
        for step in bar:
            opt.zero_grad(set_to_none=True)
            model(transform(image_f()))
            loss = _scalar(objective_f(hook))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the objective became {loss.item()} at step {step}")
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if step in thresholds:
                images[step] = _to_numpy(image_f())
                if verbose:
                    bar.write(f"step {step}: loss {loss.item():.4f}")
    except KeyboardInterrupt:
        images = [images[t] for t in thresholds if t in images] + [_to_numpy(image_f())]
    else:
        images = [images[t] for t in thresholds]
    finally:
        bar.close()
        hook.close()
    if save_image or show_image or show_inline:
        from PIL import Image
        picture = Image.fromarray((np.concatenate(list(images[-1]), axis=1) * 255).round().astype(np.uint8))
        if save_image:
            picture.save(image_name or "image.png")
        if show_image:
            picture.show()
        if show_inline:
            from IPython.display import display
            display(picture)
    return images


_warned = set()


def skips_preprocess(model) -> bool:
    """Whether ``model`` normalizes its own input, so Lucent's ``preprocess`` must not (warns once per class)."""
    if not getattr(model, "normalizes_input", False):
        return False
    name = type(model).__name__
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"{name} normalizes its own input; preprocess=True (Lucent's default) is skipped so that "
                      "the image is not normalized twice", stacklevel=3)
    return True


def _scalar(loss) -> torch.Tensor:
    """The objective's value, which must be a one-element tensor (a scalar loss to minimize)."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        what = (f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor)
                else f"{type(loss).__name__} {loss!r:.60}")
        raise ValueError(f"an objective must return a scalar tensor (one loss to minimize), got {what}; "
                         "reduce it, e.g. with .mean()")
    if not loss.is_floating_point():
        raise ValueError(f"an objective must return a floating point scalar tensor, got dtype {loss.dtype}")
    if not loss.requires_grad:
        raise ValueError("the objective's loss does not depend on the image (no gradient flows to the strokes); "
                         "compute it from T(layer) outputs")
    return loss.reshape(())


def _device_of(model) -> torch.device:
    tensor = next(model.parameters(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _compose(transforms, seed, preprocess, fixed_image_size):
    if transforms is None:
        from .transforms import standard
        steps = [standard(seed=seed)]
    elif callable(transforms):
        steps = [transforms]
    else:
        steps = list(transforms)
        if not all(callable(t) for t in steps):
            raise ValueError("transforms must be a callable or a list of callables on NCHW images")
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)

    def apply(images):
        for t in steps:
            images = t(images)
        size = fixed_image_size
        if size is None and min(images.shape[-2:]) < 224:
            size = 224
        if size is not None:
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=True)
        if preprocess:
            images = (images - mean.to(images).view(1, 3, 1, 1)) / std.to(images).view(1, 3, 1, 1)
        return images
    return apply


def _to_numpy(images: torch.Tensor) -> np.ndarray:
    return images.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
