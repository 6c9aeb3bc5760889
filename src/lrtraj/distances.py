"""Distances between solutions in weight space (fig6, fig8).

Two measures, because BatchNorm makes every conv weight that feeds a BatchNorm layer
scale-invariant: the function does not change when such a tensor is rescaled, yet the plain L2
distance grows with the weights' norm (which SGD without weight decay keeps inflating).

- ``plain``: L2 norm of the difference of all parameters.
- ``scale_invariant``: each conv/linear weight tensor (the parameters with two or more
  dimensions) is normalized to unit norm before the difference; the L2 norm of the stacked
  differences. Biases and BatchNorm affine parameters are left out: they are not scale-free.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

MEASURES = ("plain", "scale_invariant")


def _weights(params: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {n: t for n, t in params.items() if t.is_floating_point() and t.ndim >= 2}


def plain(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> float:
    """L2 distance over all shared floating-point parameters."""
    total = torch.zeros((), dtype=torch.float64)
    for name, ta in a.items():
        if ta.is_floating_point():
            total += (ta.double() - b[name].double()).pow(2).sum()
    return float(total.sqrt())


def scale_invariant(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> float:
    """L2 distance between the unit-normalized conv/linear weight tensors."""
    total = torch.zeros((), dtype=torch.float64)
    for name, ta in _weights(a).items():
        ua = ta.double() / ta.double().norm()
        ub = b[name].double() / b[name].double().norm()
        total += (ua - ub).pow(2).sum()
    return float(total.sqrt())


def both(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> dict[str, float]:
    return {"plain": plain(a, b), "scale_invariant": scale_invariant(a, b)}


def parameters_of(state_dict: Mapping[str, Tensor], names: list[str]) -> dict[str, Tensor]:
    """The named parameters out of a full state dict (drops BatchNorm running buffers)."""
    return {n: state_dict[n] for n in names}


def endpoint_to_trajectory(
    final: Mapping[str, Tensor], snapshots: Mapping[str, Tensor], steps: list[int]
) -> list[dict[str, float]]:
    """fig8: distance from one trajectory's final point to each snapshot of another.

    ``snapshots`` maps each parameter name to a tensor stacked over ``steps``."""
    rows = []
    for i, step in enumerate(steps):
        point = {name: stacked[i] for name, stacked in snapshots.items()}
        for measure, value in both(final, point).items():
            rows.append({"step": step, "measure": measure, "distance": value})
    return rows
