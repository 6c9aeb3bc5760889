"""Model registry: CIFAR-style ResNets (resnet8/20/32, He et al. 2016, option-B shortcuts) for
small images; ``resnet18_cifar``/``resnet34_cifar``, torchvision's 4-stage ResNets (widths
64-512) with the stem CIFAR work uses, for CIFAR at paper scale; torchvision's resnet18/34/50 for
ImageNet-sized images. All use BatchNorm. Sizes and FLOPs per image: ``config/README.md``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


# Narrower convolutions crash the process in oneDNN's CPU weight-gradient kernel (heap
# corruption, or a hang on 2 threads; seen with torch 2.14.1 on AMD EPYC, in both layouts).
MIN_WIDTH = 8


class CifarResNet(nn.Module):
    """3 stages of ``blocks`` basic blocks (depth = 6*blocks + 2), strides 1, 2, 2."""

    def __init__(self, blocks: int, widths: Sequence[int], in_channels: int, num_classes: int):
        super().__init__()
        if min(widths) < MIN_WIDTH:
            raise ValueError(
                f"model.widths {list(widths)}: each must be at least {MIN_WIDTH} "
                "(narrower convolutions crash torch's oneDNN CPU backward)"
            )
        w0, w1, w2 = widths
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU()
        )
        layers: list[nn.Module] = []
        cin = w0
        for width, stride in ((w0, 1), (w1, 2), (w2, 2)):
            for b in range(blocks):
                layers.append(BasicBlock(cin, width, stride if b == 0 else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _cifar(blocks: int) -> Callable[..., nn.Module]:
    def build(
        in_channels: int, num_classes: int, widths: Sequence[int] = (16, 32, 64)
    ) -> nn.Module:
        return CifarResNet(blocks, widths, in_channels, num_classes)

    return build


def _torchvision(name: str) -> Callable[..., nn.Module]:
    def build(in_channels: int, num_classes: int, widths: Sequence[int] | None = None) -> nn.Module:
        import torchvision

        if in_channels != 3:
            raise ValueError(f"model.name {name} expects 3-channel images, data has {in_channels}")
        return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)

    return build


def _torchvision_small(name: str) -> Callable[..., nn.Module]:
    """torchvision's ResNet ``name`` for 32x32 images: a 3x3 stride-1 stem and no max-pool, so
    the first stage works at 32x32 (the ImageNet stem, 7x7 stride 2 and a max-pool, leaves 8x8
    before the first block and 1x1 in the last stage). ``model.widths`` does not apply."""
    imagenet = _torchvision(name)

    def build(in_channels: int, num_classes: int, widths: Sequence[int] | None = None) -> nn.Module:
        net = imagenet(3, num_classes)
        net.conv1 = nn.Conv2d(in_channels, net.conv1.out_channels, 3, 1, 1, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.maxpool = nn.Identity()
        return net

    return build


MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet8": _cifar(1),
    "resnet20": _cifar(3),
    "resnet32": _cifar(5),
    "resnet18_cifar": _torchvision_small("resnet18"),
    "resnet34_cifar": _torchvision_small("resnet34"),
    "resnet18": _torchvision("resnet18"),
    "resnet34": _torchvision("resnet34"),
    "resnet50": _torchvision("resnet50"),
}


def build_model(
    name: str,
    in_channels: int,
    num_classes: int,
    widths: Sequence[int] | None = None,
    seed: int = 0,
) -> nn.Module:
    """Model ``name`` with weights initialised from ``seed`` (independent of global RNG state)."""
    if name not in MODELS:
        raise ValueError(f"model.name: unknown model {name!r}; known: {sorted(MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        kwargs = {"widths": tuple(widths)} if widths is not None else {}
        return MODELS[name](in_channels, num_classes, **kwargs)
