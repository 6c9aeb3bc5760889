"""The model registry: the CIFAR ResNets keep a 32x32 image at full size in their first stage."""

import pytest
import torch

from lrtraj.config import DEFAULT_CONFIG, load
from lrtraj.models import MODELS, build_model


@pytest.mark.parametrize(
    ("name", "params"), [("resnet18_cifar", 11.17e6), ("resnet34_cifar", 21.28e6)]
)
def test_cifar_resnets_work_at_32_pixels_through_the_first_stage(name, params):
    net = build_model(name, 3, 10, seed=0)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(params, rel=1e-3)
    sizes = []
    net.layer1.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
    net.layer4.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sizes == [32, 4]  # the ImageNet stem would leave 8 and 1


def test_models_are_a_pure_function_of_their_seed():
    a, b, c = (build_model("resnet18_cifar", 3, 10, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_cifar_overlays_train_the_cifar_resnet_and_imagenet_the_torchvision_one():
    for overlay, name in [
        ("cifar10", "resnet34_cifar"),
        ("cifar100", "resnet34_cifar"),
        ("imagenet", "resnet34"),
    ]:
        assert load(DEFAULT_CONFIG.parent / f"{overlay}.yaml")["model"]["name"] == name
    assert {"resnet18_cifar", "resnet34_cifar", "resnet34"} <= set(MODELS)
