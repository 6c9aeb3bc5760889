"""``lrtraj plan``: the cost preview of a target, on the tiny config, against counts made by hand
from the config's values (dry runs only: nothing trains)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrtraj import cli, plan
from lrtraj import config as lrconfig
from lrtraj.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
FIG5 = "results/figures/fig5.pdf"


@pytest.fixture(scope="module")
def cfg() -> dict:
    return lrconfig.load(TINY)


@pytest.fixture(scope="module")
def per_model(cfg) -> int:
    """Forward images of one evaluation: every split of the loaded dataset plus the
    BatchNorm-recompute batches."""
    dataset = load_dataset(cfg["data"])
    ev = cfg["evaluation"]
    assert ev["batchnorm"] == "recompute"
    return (
        sum(len(y) for _, y in dataset.eval_sets.values()) + ev["bn_batches"] * ev["bn_batch_size"]
    )


@pytest.fixture(scope="module")
def fig5_rows(cfg, tmp_path_factory) -> dict[str, plan.RuleCost]:
    jobs = plan.dry_run([TINY], [FIG5], forceall=True, directory=tmp_path_factory.mktemp("wd"))
    table = plan.read_throughput(plan.THROUGHPUT_TABLE)
    rows = plan.plan(jobs, lrconfig.experiments(cfg, base_dir=ROOT), cfg["experiment"], table)
    return {row.rule: row for row in rows}


def test_fig5_counts_match_a_hand_count(cfg, per_model, fig5_rows):
    traj, trips = cfg["trajectory"], cfg["sidetrips"]
    assert set(fig5_rows) == {"burn_in", "sidetrip", "fig5"}

    burn = fig5_rows["burn_in"]
    assert burn.jobs == 1
    assert burn.cost.steps == traj["steps"]
    assert burn.cost.train_images == traj["steps"] * traj["batch_size"]
    assert traj["steps"] % traj["eval_every"] == 0  # evaluations at 0, every eval_every, the end
    assert burn.cost.eval_images == (traj["steps"] // traj["eval_every"] + 1) * per_model

    # fig5: every method of one branch and every seed: the constant run, one schedule per
    # averaging family, linear decay
    methods = 1 + len(trips["averaging"]) + int(trips["linear_decay"])
    runs = len(trips["data_seeds"]) * methods
    T, every = trips["steps"], trips["eval_every"]
    side = fig5_rows["sidetrip"]
    assert side.jobs == runs == 12
    assert side.cost.steps == runs * T
    assert side.cost.train_images == runs * T * traj["batch_size"]
    points = T // every + 1
    avg = trips["averaging"]
    # an average is evaluated once its window fits: EMA from the start, the others from
    # their longest span on
    windows = [0, avg["two_point"]["k"], (avg["swa"]["n"] - 1) * avg["swa"]["c"], avg["tail"]["m"]]
    averages = sum((T - w) // every + 1 for w in windows)
    per_seed = methods * points + averages
    assert side.cost.eval_images == len(trips["data_seeds"]) * per_seed * per_model

    for row in (burn, side):
        assert row.hours["cpu"] > 0 and "cuda" not in row.hours


def test_rules_without_a_cost_model_are_light(cfg, fig5_rows):
    assert fig5_rows["fig5"].light and fig5_rows["fig5"].jobs == 1
    assert fig5_rows["fig5"].hours == {}
    exps = lrconfig.experiments(cfg, base_dir=ROOT)
    rows = plan.plan([plan.Job("not_a_registered_rule", {"exp": "tiny"})], exps, "tiny", {})
    assert rows[0].light and rows[0].hours == {}
    assert "not_a_registered_rule (light)" in plan.render(rows)


def test_probe_and_twin_costs_by_hand(cfg, per_model):
    probes, b = cfg["probes"], cfg["trajectory"]["batch_size"]
    sweep = probes["sweep"]
    cost = plan.COSTS["probe_sweep"](cfg, {"ckpt": "40"})
    # one gradient per batch size; before the step and each lr, on the fixed and held-out batch
    assert (cost.steps, cost.train_images) == (0, sum(sweep["batch_sizes"]))
    assert cost.eval_images == (sweep["num_lrs"] + 1) * 2 * sum(sweep["batch_sizes"])

    gd = probes["fixed_batch"]
    assert (gd["steps"], gd["record_every"]) == (20, 5)
    recorded = len([0, 1, 2, 5, 10, 15, 20])
    n = len(gd["branch_steps"])
    paths = n * (n - 1) // 2 + n  # endpoint pairs, each end back to its branch
    cost = plan.COSTS["probe_fixed_batch"](cfg, {})
    assert cost.steps == n * gd["steps"]
    assert cost.train_images == n * gd["steps"] * gd["batch_size"]
    points = gd["interpolation_points"]
    assert cost.eval_images == (n * recorded + paths * points) * 2 * gd["batch_size"]

    al = probes["alignment"]
    assert (al["steps"], al["measure_every"]) == (20, 5)
    measured = len([0, 1, 2, 5, 10, 15, 20])
    seeds = len(al["data_seeds"])
    cost = plan.COSTS["probe_alignment"](cfg, {})
    assert cost.steps == seeds * al["steps"]
    assert cost.train_images == seeds * (al["steps"] + 3 * measured) * b

    tw = cfg["twins"]
    cost = plan.COSTS["twin"](cfg, {"exp": "tiny", "seed": "1"})
    assert (cost.steps, cost.train_images) == (tw["steps"], tw["steps"] * b)
    assert cost.eval_images == 5 * per_model  # a quarter of the way each time, and the start


def test_throughput_file_overrides_the_table(cfg, per_model, fig5_rows, tmp_path, capsys):
    report = {
        "device": "x86_64",
        "date": "2026-12-04",
        "batch_size": 64,
        "throughput": {
            "digits": {"model": "resnet8", "image_size": 8, "engine_eager": {"images_per_s": 100.0}}
        },
    }
    path = tmp_path / "device_check.json"
    path.write_text(json.dumps(report))
    code = cli.main(
        ["plan", f"--configfile={TINY}", "--forceall", "--directory", str(tmp_path / "wd")]
        + ["--throughput", str(path), FIG5]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "resnet8 at 8 px on cpu: 100 img/s, MEASURED" in out and str(path) in " ".join(
        out.split()
    )
    assert "declared" not in out.lower()
    light = [line.split() for line in out.splitlines() if line.startswith("fig5 (light)")]
    assert light == [["fig5", "(light)", "1", "-", "-", "-", "0", "0"]]
    table = {**plan.read_throughput(plan.THROUGHPUT_TABLE), **plan.read_throughput(path)}
    jobs = [plan.Job("burn_in", {"exp": "tiny"})]
    (burn,) = plan.plan(jobs, lrconfig.experiments(cfg, base_dir=ROOT), "tiny", table)
    traj = cfg["trajectory"]
    images = traj["steps"] * traj["batch_size"] + 3 * per_model / 3
    assert burn.hours["cpu"] == pytest.approx(images / 100.0 / 3600)
    assert fig5_rows["burn_in"].hours["cpu"] < burn.hours["cpu"]  # the table's 1250 img/s


def test_throughput_table_files(tmp_path):
    table = tmp_path / "table.yaml"
    entry = {"model": "m", "image_size": 32, "device": "cuda", "images_per_s": 5.0}
    table.write_text(
        json.dumps({"entries": [{**entry, "status": "declared", "source": "a guess"}]})
    )
    (read,) = plan.read_throughput(table).values()
    assert (read.key, read.images_per_s, read.status) == (("m", 32, "cuda"), 5.0, "declared")
    table.write_text(json.dumps({"entries": [{**entry, "status": "guessed", "source": "?"}]}))
    with pytest.raises(ValueError, match="status must be measured or declared"):
        plan.read_throughput(table)
    committed = plan.read_throughput(plan.THROUGHPUT_TABLE).values()
    assert committed and all(e.status in ("measured", "declared") and e.source for e in committed)
