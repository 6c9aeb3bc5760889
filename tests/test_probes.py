"""Loss-landscape probes: the one-step sweep, its evaluation paths, interpolation, GD side-trips
and the gradient-alignment callback, on a tiny ResNet and real (noisy digits) batches."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lrtraj import config as lrconfig
from lrtraj.analysis.probes import barriers
from lrtraj.data import load_dataset
from lrtraj.models import build_model
from lrtraj.probes import config_problems
from lrtraj.probes.alignment import GradientProbe, measure_steps
from lrtraj.probes.core import batch_loss, bn_mode, fetch_batch, gradient, parameters
from lrtraj.probes.fixed_batch import (
    Segment,
    fixed_batch_paths,
    gd_sidetrip,
    interpolate,
)
from lrtraj.probes.sweep import line_losses, lr_grid, one_step_sweep
from lrtraj.train import LoopSettings, OptimizerConfig, RunInfo, make_optimizer, sgd_loop

REPO = Path(__file__).resolve().parents[1]
DATA = {"name": "noisy_digits", "noise_sigma": 1.0, "max_shift": 1}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(DATA)


@pytest.fixture(scope="module")
def trained(dataset):
    """A tiny ResNet moved off its initialisation (non-trivial BatchNorm running buffers)."""
    model = build_model("resnet8", dataset.in_channels, dataset.num_classes, (8, 8, 8), seed=3)
    opt = make_optimizer(
        model, OptimizerConfig(momentum=0.9, nesterov=False, weight_decay=0.0), 0.1
    )
    stream = dataset.stream(32, 7, CPU)
    for _, x, y in stream.batches(0, 20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture()
def net(trained):
    return copy.deepcopy(trained)


@pytest.fixture()
def batches(dataset):
    return fetch_batch(dataset, 32, 1000, 0, CPU), fetch_batch(dataset, 32, 1001, 0, CPU)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), f"{key} changed"


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_sweep_at_lr_zero_is_the_plain_loss(net, batches, mode):
    fixed, heldout = batches
    with bn_mode(net, mode), torch.no_grad():
        plain = [float(batch_loss(net, b)[0]) for b in (fixed, heldout)]
    values, norm = one_step_sweep(net, fixed, [fixed, heldout], [0.0, 0.1], batchnorm=mode)
    assert values[0, :, 0] == pytest.approx(plain, rel=1e-6)
    assert norm > 0


def test_small_step_lowers_the_training_batch_loss_and_model_is_untouched(net, batches):
    fixed, heldout = batches
    before = snapshot(net)
    values, _ = one_step_sweep(net, fixed, [fixed, heldout], [0.0, 1e-3, 1e-2])
    assert values[2, 0, 0] < values[1, 0, 0] < values[0, 0, 0]
    assert_unchanged(net, before)
    assert net.training  # the mode the model came in with


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_inplace_vmap_and_copy_paths_agree(net, batches, mode):
    fixed, heldout = batches
    grad, _ = gradient(net, fixed)
    base = [p.detach().clone() for p in parameters(net)]
    lrs = np.r_[0.0, lr_grid(1e-3, 10.0, 9)]
    before = snapshot(net)
    out = {
        m: line_losses(
            net, base, grad, lrs, [fixed, heldout], batchnorm=mode, method=m, chunk_size=4
        )
        for m in ("copy", "inplace", "vmap")
    }
    assert_unchanged(net, before)
    for m in ("inplace", "vmap"):
        np.testing.assert_allclose(out[m][..., 0], out["copy"][..., 0], rtol=2e-5, atol=1e-6)
        # accuracy can only flip on exact logit ties; none at this tolerance
        np.testing.assert_allclose(out[m][..., 1], out["copy"][..., 1], atol=1.0 / 32 + 1e-9)


@pytest.mark.parametrize("method", ["inplace", "vmap", "copy"])
def test_diverging_lr_is_recorded_not_raised(net, batches, method):
    fixed, heldout = batches
    before = snapshot(net)
    values, _ = one_step_sweep(
        net, fixed, [fixed, heldout], [0.0, 1.0, 1e38, math.inf], method=method
    )
    assert np.isfinite(values[:2, :, 0]).all()
    assert not np.isfinite(values[3, :, 0]).any()  # inf weights: NaN loss, kept as data
    assert_unchanged(net, before)


def test_interpolation_ends_reproduce_endpoint_losses(net, batches, dataset):
    fixed, heldout = batches
    a = [p.detach().clone() for p in parameters(net)]
    other = build_model("resnet8", dataset.in_channels, dataset.num_classes, (8, 8, 8), seed=9)
    b = [p.detach().clone() for p in parameters(other)]
    df = interpolate(
        net,
        {"a": a, "b": b},
        [Segment("endpoints", "a", "b")],
        [fixed, heldout],
        np.linspace(0, 1, 21),
    )
    loss = df[df["metric"] == "loss"].set_index(["alpha", "batch"])["value"]

    def losses(model):
        with bn_mode(model, "train"), torch.no_grad():
            return {
                "fixed": float(batch_loss(model, fixed)[0]),
                "heldout": float(batch_loss(model, heldout)[0]),
            }

    at_a, at_b = losses(net), losses(other)
    for name in ("fixed", "heldout"):
        assert loss[(0.0, name)] == pytest.approx(at_a[name], rel=1e-6)
        assert loss[(1.0, name)] == pytest.approx(at_b[name], rel=1e-5)
    assert df["alpha"].nunique() == 21


def test_barrier_is_the_bump_above_the_higher_end():
    alpha = np.linspace(0, 1, 5)
    rows = [
        {
            "path": "p",
            "kind": "endpoints",
            "start": "a",
            "end": "b",
            "alpha": t,
            "batch": "fixed",
            "metric": "loss",
            "value": v,
        }
        for t, v in zip(alpha, [1.0, 1.5, 2.5, 1.2, 2.0], strict=True)
    ] + [
        {
            "path": "q",
            "kind": "to_branch",
            "start": "c",
            "end": "d",
            "alpha": t,
            "batch": "fixed",
            "metric": "loss",
            "value": v,
        }
        for t, v in zip(alpha, [4.0, 3.0, 2.0, 1.0, 0.5], strict=True)
    ]
    bar = barriers(pd.DataFrame(rows)).set_index("path")
    assert bar.loc["p", "barrier"] == pytest.approx(0.5)
    assert bar.loc["q", "barrier"] == 0.0
    assert bar.loc["p", "relative_barrier"] == pytest.approx(0.5 / 4.0)


def test_fixed_batch_paths_cover_pairs_and_branches():
    paths = fixed_batch_paths([10, 20, 30])
    assert [(p.kind, p.start, p.end) for p in paths] == [
        ("endpoints", "end@10", "end@20"),
        ("endpoints", "end@10", "end@30"),
        ("endpoints", "end@20", "end@30"),
        ("to_branch", "branch@10", "end@10"),
        ("to_branch", "branch@20", "end@20"),
        ("to_branch", "branch@30", "end@30"),
    ]


def test_gd_sidetrip_fits_the_fixed_batch(net, batches):
    fixed, heldout = batches
    df, end = gd_sidetrip(
        net, fixed, heldout, branch_step=20, lr=0.2, steps=30, record_every=10, batch_size=32
    )
    loss = df[(df["metric"] == "loss") & (df["batch"] == "fixed")].set_index("step")["value"]
    assert list(loss.index) == [0, 1, 2, 5, 10, 20, 30]
    assert loss[30] < 0.5 * loss[0]
    assert all(torch.equal(e, p) for e, p in zip(end, parameters(net), strict=True))


def _run(net, dataset, callbacks):
    opt = make_optimizer(net, OptimizerConfig(momentum=0.9, nesterov=False, weight_decay=0.0), 0.05)
    sgd_loop(
        net,
        opt,
        dataset.stream(32, 5, CPU),
        RunInfo("probe", 0, 5, "alignment", "probe", "probe"),
        start=0,
        stop=12,
        lr_at=lambda _s: 0.05,
        settings=LoopSettings(eval_every=12, log_every=12),
        callbacks=callbacks,
    )
    return snapshot(net)


def test_alignment_callback_leaves_the_trajectory_bit_identical(net, batches, dataset):
    torch.set_num_threads(1)
    fixed, heldout = batches
    twin = copy.deepcopy(net)
    plain = _run(twin, dataset, [])
    probe = GradientProbe(
        branch_step=0,
        data_seed=5,
        fixed=fixed,
        independent=lambda _s: (fixed, heldout),
        steps=measure_steps(12, 4),
        keep=True,
    )
    probed = _run(net, dataset, [probe])
    for key, value in plain.items():
        assert torch.equal(probed[key], value), f"{key} differs with the probe attached"
    rows = pd.DataFrame(probe.rows)
    first = rows[rows["step"] == 0].set_index("metric")["value"]
    assert first["cos_to_start"] == pytest.approx(1.0)
    assert first["norm_ratio"] == pytest.approx(1.0)
    assert sorted(rows["step"].unique()) == [0, 1, 2, 4, 8, 12]
    assert set(probe.kept) == set(rows["step"].unique())
    cos = rows[rows["metric"] == "cos_to_start"]["value"]
    assert ((cos > -1 - 1e-9) & (cos < 1 + 1e-9)).all()


def test_parallel_cosine_against_itself_is_one(net, batches, dataset):
    fixed, heldout = batches
    ref = GradientProbe(
        branch_step=0,
        data_seed=5,
        fixed=fixed,
        independent=lambda _s: batches,
        steps=[0, 4, 8],
        keep=True,
    )
    _run(copy.deepcopy(net), dataset, [ref])
    same = GradientProbe(
        branch_step=0,
        data_seed=5,
        fixed=fixed,
        independent=lambda _s: batches,
        steps=[0, 4, 8],
        reference=ref.kept,
        reference_seed=5,
    )
    _run(net, dataset, [same])
    par = pd.DataFrame(same.rows).query("metric == 'cos_parallel'")["value"]
    assert len(par) == 3 and par.to_numpy() == pytest.approx(1.0, abs=1e-6)


def test_repository_configs_have_consistent_probes():
    for overlay in (
        [],
        ["config/imagenet.yaml"],
        ["config/cifar10.yaml"],
        ["config/cifar100.yaml"],
        ["config/fashion_mnist.yaml"],
    ):
        cfg = lrconfig.load(*(REPO / o for o in overlay))
        assert config_problems(cfg["probes"], cfg) == [], overlay


def test_config_problems_name_the_key():
    cfg = lrconfig.load()
    probes = copy.deepcopy(cfg["probes"])
    probes["fig2"]["checkpoint"] = 123
    probes["heldout_seed"] = probes["batch_seed"]
    probes["sweep"]["checkpoints"].append(10**9)
    problems = "\n".join(config_problems(probes, cfg))
    assert "probes.fig2.checkpoint: 123" in problems
    assert "probes.heldout_seed" in problems
    assert "probes.sweep.checkpoints" in problems


def test_heldout_curve_is_the_mean_of_independent_heldout_batches(dataset, trained, tmp_path):
    """heldout_batches = k: the held-out rows are the mean of the k batches of the held-out
    stream, each measured on its own; k = 1 is that stream's first batch alone."""
    from lrtraj import checkpoint
    from lrtraj.probes.sweep import run_sweep

    path = tmp_path / "step5.pt"
    checkpoint.save({"step": 5, "model": trained.state_dict()}, path)
    model = {"name": "resnet8", "widths": [8, 8, 8]}
    lrs = [1e-2, 1.0]

    def sweep(k: int) -> pd.DataFrame:
        df = run_sweep(
            checkpoint_path=path,
            checkpoint_step=5,
            dataset=dataset,
            model=model,
            device=CPU,
            batch_sizes=[16],
            lrs=lrs,
            batch_seed=1000,
            heldout_seed=1001,
            heldout_batches=k,
        )
        return df[df["metric"] == "loss"].set_index(["batch", "lr"])["value"]

    one, three = sweep(1), sweep(3)
    fixed = fetch_batch(dataset, 16, 1000, 0, CPU)
    heldout = [fetch_batch(dataset, 16, 1001, i, CPU) for i in range(3)]
    values, _ = one_step_sweep(copy.deepcopy(trained), fixed, [fixed, *heldout], [0.0, *lrs])
    for i, lr in enumerate([0.0, *lrs]):
        assert one[("fixed", lr)] == pytest.approx(values[i, 0, 0], rel=1e-6)
        assert three[("fixed", lr)] == pytest.approx(values[i, 0, 0], rel=1e-6)
        assert one[("heldout", lr)] == pytest.approx(values[i, 1, 0], rel=1e-6)
        assert three[("heldout", lr)] == pytest.approx(values[i, 1:, 0].mean(), rel=1e-6)
    assert three[("heldout", 0.0)] != pytest.approx(one[("heldout", 0.0)], rel=1e-3)
