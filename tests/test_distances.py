"""Weight-space distances: the scale-invariant measure ignores rescaled conv weights."""

import pytest
import torch

from lrtraj import distances
from lrtraj.models import build_model


def params(seed):
    model = build_model("resnet8", 1, 10, (8, 8, 8), seed=seed)
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_rescaling_a_conv_weight_changes_plain_but_not_scale_invariant_distance():
    a, b = params(0), params(1)
    conv = next(n for n, t in a.items() if t.ndim == 4)
    scaled = {**b, conv: 8.0 * b[conv]}  # a power of two: exact in float32
    assert distances.scale_invariant(a, scaled) == pytest.approx(
        distances.scale_invariant(a, b), rel=1e-12
    )
    assert distances.plain(a, scaled) > distances.plain(a, b) + 1.0


def test_distances_are_metrics_on_examples():
    a, b = params(0), params(1)
    for measure in (distances.plain, distances.scale_invariant):
        assert measure(a, a) == 0.0
        assert measure(a, b) == pytest.approx(measure(b, a), rel=1e-12)
        assert measure(a, b) > 0


def test_endpoint_to_trajectory_rows():
    a, b = params(0), params(1)
    stacked = {n: torch.stack([a[n], b[n]]) for n in a}
    rows = distances.endpoint_to_trajectory(b, stacked, [10, 20])
    at_20 = {r["measure"]: r["distance"] for r in rows if r["step"] == 20}
    assert at_20 == {"plain": 0.0, "scale_invariant": 0.0}
    assert len(rows) == 4
