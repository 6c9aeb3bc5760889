"""The SGD loop: bit-exact resume after SIGKILL, divergence recorded as data, side-trips replay."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch

from lrtraj import checkpoint
from lrtraj.sidetrips import SideTrip, run_sidetrip
from lrtraj.train.config import TrainingConfig
from lrtraj.trajectory import TrajectoryConfig, run_burn_in
from tests.fixtures import debian_fashion_mnist

TINY = {
    "data": {"name": "noisy_digits", "noise_sigma": 1.0, "max_shift": 1},
    "model": {"name": "resnet8", "widths": [8, 8, 8], "init_seed": 0},
    "optimizer": {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
    "evaluation": {
        "batch_size": 500,
        "batchnorm": "recompute",
        "bn_batches": 1,
        "bn_batch_size": 64,
        "bn_seed": 1,
    },
    "device": "cpu",
    "compute": {},
}
RUN = TrainingConfig.from_config(TINY)


def burn_in(tmp, steps=300, lr=0.1, every=25):
    return run_burn_in(
        RUN,
        TrajectoryConfig(lr=lr, batch_size=16, steps=steps, data_seed=0, eval_every=100),
        checkpoints={steps: tmp / "final.pt"},
        state_dir=tmp / "state",
        checkpoint_every=every,
        log_every=100,
    )


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    torch.set_num_threads(1)
    clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
    clean = burn_in(clean_dir)
    script = textwrap.dedent(f"""
        import pathlib, torch
        torch.set_num_threads(1)
        from tests.test_train import burn_in
        burn_in(pathlib.Path({str(killed_dir)!r}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=os.getcwd())
    resume = killed_dir / "state" / "resume.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if resume.exists() and checkpoint.load(resume)["step"] >= 50:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed_dir / "final.pt").exists()
    killed_at = checkpoint.load(resume)["step"]
    assert 0 < killed_at < 300
    resumed = burn_in(killed_dir)
    a = checkpoint.load(clean_dir / "final.pt")
    b = checkpoint.load(killed_dir / "final.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key, value in a["optimizer"]["state"].items():
        assert torch.equal(
            value["momentum_buffer"], b["optimizer"]["state"][key]["momentum_buffer"]
        )
    pd.testing.assert_frame_equal(clean, resumed)
    assert not resume.exists()  # resume state is cleaned up after success


def test_divergence_is_recorded_not_raised(tmp_path):
    burn_in(tmp_path, steps=20, every=10)
    trip = SideTrip(
        branch_step=20,
        data_seed=0,
        method="constant",
        steps=40,
        lr=1e4,
        eval_every=20,
        averaging={"ema": {"beta": 0.9}},
    )
    df = run_sidetrip(trip, branch_checkpoint=tmp_path / "final.pt", training=RUN, batch_size=16)
    losses = df[(df.split == "train_batch")]["value"].to_numpy()
    assert not np.isfinite(losses[-1])
    assert df["step"].max() < 60  # stopped early, rows so far kept


def test_sidetrip_on_main_seed_replays_the_main_trajectory(tmp_path):
    burn_in(tmp_path / "b", steps=20, every=20)
    trip = SideTrip(branch_step=20, data_seed=0, method="constant", steps=20, lr=0.1, eval_every=20)
    side = run_sidetrip(
        trip, branch_checkpoint=tmp_path / "b" / "final.pt", training=RUN, batch_size=16
    )
    main = burn_in(tmp_path / "c", steps=40, every=20)
    main_loss = main[(main.split == "train_batch") & (main.step > 20)]["value"].to_numpy()
    side_loss = side[side.split == "train_batch"]["value"].to_numpy()
    np.testing.assert_array_equal(main_loss, side_loss)


def test_short_burn_in_on_real_fashion_mnist(tmp_path):
    root = debian_fashion_mnist(tmp_path / "data")
    if root is None:
        pytest.skip("Debian package dataset-fashion-mnist not installed (CI installs it)")
    cfg = {
        **TINY,
        "data": {
            "name": "fashion_mnist",
            "data_dir": str(root),
            "pool": 2,
            "crop_padding": 2,
            "flip": True,
            "train_eval_size": 500,
        },
    }
    df = run_burn_in(
        TrainingConfig.from_config(cfg),
        TrajectoryConfig(lr=0.1, batch_size=64, steps=40, data_seed=0, eval_every=40),
        checkpoints={40: tmp_path / "ckpt.pt"},
        state_dir=tmp_path / "state",
        checkpoint_every=20,
        log_every=20,
    )
    acc = df[(df.split == "test") & (df.metric == "accuracy")].set_index("step")["value"]
    assert acc[40] > acc[0] + 0.1  # 40 steps already learn something on real data


def test_preemption_checkpoints_and_resumes_bit_identically(tmp_path, monkeypatch):
    burn_in(tmp_path, steps=60, every=50)
    trip = SideTrip(
        branch_step=60,
        data_seed=1,
        method="constant",
        steps=40,
        lr=0.1,
        eval_every=10,
        averaging={"ema": {"beta": 0.9}, "two_point": {"k": 20}},
    )
    kwargs = dict(branch_checkpoint=tmp_path / "final.pt", training=RUN, batch_size=16)
    reference = run_sidetrip(trip, **kwargs)

    resume = tmp_path / "side.resume.pt"
    # step 73 lies between evaluations and checkpoints: the hardest place to stop
    _preempted_at(
        73,
        monkeypatch,
        lambda: run_sidetrip(trip, **kwargs, resume_path=resume, checkpoint_every=100),
    )
    assert checkpoint.load(resume)["step"] == 73
    resumed = run_sidetrip(trip, **kwargs, resume_path=resume, checkpoint_every=100)
    pd.testing.assert_frame_equal(reference, resumed)


def test_twins_share_the_main_trajectory_up_to_the_branch_and_differ_after(tmp_path):
    from lrtraj.sidetrips import Snapshots

    main = run_burn_in(
        RUN,
        TrajectoryConfig(lr=0.1, batch_size=16, steps=40, data_seed=0, eval_every=20),
        checkpoints={20: tmp_path / "b20.pt", 40: tmp_path / "b40.pt"},
        state_dir=tmp_path / "state",
        checkpoint_every=20,
        log_every=20,
    )
    assert not main.empty
    runs = {}
    for seed in (0, 1):
        trip = SideTrip(
            branch_step=20,
            data_seed=seed,
            method="constant",
            steps=20,
            lr=0.1,
            eval_every=20,
            phase="twin",
        )
        snaps = Snapshots(start=20, every=10)
        run_sidetrip(
            trip,
            branch_checkpoint=tmp_path / "b20.pt",
            training=RUN,
            batch_size=16,
            snapshots=snaps,
        )
        runs[seed] = snaps
    branch = checkpoint.load(tmp_path / "b20.pt")["model"]
    later = checkpoint.load(tmp_path / "b40.pt")["model"]
    for name, stacked in runs[1].params.items():
        assert runs[1].steps == [20, 30, 40]
        assert torch.equal(stacked[0], branch[name])  # bit-identical up to the branch
        assert torch.equal(runs[0].params[name][2], later[name])  # main seed replays main
    differs = [
        not torch.equal(runs[1].params[n][2], later[n]) for n in later if n in runs[1].params
    ]
    assert all(differs)  # another batch order moves every parameter elsewhere


def _preempted_at(step_to_stop, monkeypatch, run):
    """Run ``run()`` with a preemption request at ``step_to_stop``; expect it to stop there."""
    from lrtraj import preemption, sidetrips

    loop = sidetrips.sgd_loop

    def with_signal(*args, **kwargs):
        def request(step, _model):
            if step == step_to_stop:
                preemption.request()

        kwargs["callbacks"] = [*kwargs.get("callbacks", []), request]
        return loop(*args, **kwargs)

    monkeypatch.setattr(sidetrips, "sgd_loop", with_signal)
    try:
        with pytest.raises(preemption.Preempted):
            run()
    finally:
        preemption.clear()
        monkeypatch.undo()


def test_a_resume_file_from_another_config_is_discarded(tmp_path, monkeypatch):
    burn_in(tmp_path, steps=20, every=20)
    base = dict(branch_checkpoint=tmp_path / "final.pt", training=RUN, batch_size=16)
    resume = tmp_path / "trip.resume.pt"
    old = SideTrip(branch_step=20, data_seed=1, method="constant", steps=30, lr=0.1, eval_every=10)
    _preempted_at(35, monkeypatch, lambda: run_sidetrip(old, **base, resume_path=resume))
    assert resume.exists()
    new = SideTrip(branch_step=20, data_seed=1, method="constant", steps=30, lr=0.05, eval_every=10)
    resumed = run_sidetrip(new, **base, resume_path=resume)
    clean = run_sidetrip(new, **base)
    pd.testing.assert_frame_equal(resumed, clean)  # nothing of the lr-0.1 run leaked in


def test_twin_snapshots_survive_a_resume(tmp_path, monkeypatch):
    from lrtraj.sidetrips import Snapshots

    burn_in(tmp_path, steps=20, every=20)
    trip = SideTrip(
        branch_step=20,
        data_seed=2,
        method="constant",
        steps=30,
        lr=0.1,
        eval_every=30,
        phase="twin",
    )
    base = dict(branch_checkpoint=tmp_path / "final.pt", training=RUN, batch_size=16)
    clean = Snapshots(start=20, every=10)
    run_sidetrip(trip, **base, snapshots=clean)
    resume = tmp_path / "twin.resume.pt"
    _preempted_at(
        37,
        monkeypatch,
        lambda: run_sidetrip(
            trip, **base, resume_path=resume, snapshots=Snapshots(start=20, every=10)
        ),
    )
    resumed = Snapshots(start=20, every=10)
    run_sidetrip(trip, **base, resume_path=resume, snapshots=resumed)
    assert resumed.steps == clean.steps == [20, 30, 40, 50]
    for name, values in clean.params.items():
        assert all(torch.equal(a, b) for a, b in zip(values, resumed.params[name], strict=True))


def test_a_diverged_burn_in_keeps_its_metrics_and_says_where(tmp_path):
    from lrtraj.divergence import burn_in_failures
    from lrtraj.metrics import read_diverged, read_parquet

    with pytest.raises(RuntimeError) as err:
        burn_in(tmp_path, steps=40, lr=1e4, every=10)
    message = str(err.value)
    kept = tmp_path / "state" / "diverged_metrics.parquet"
    assert "burn-in diverged" in message and "trajectory.lr=10000.0" in message
    assert str(kept) in message
    df = read_parquet(kept)
    losses = df[df.split == "train_batch"].sort_values("step")["value"].to_numpy()
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[0])
    assert df["diverged"].all()
    [record] = read_diverged(kept)
    assert record["phase"] == "burn_in" and f"not finite at step {record['step']} " in message
    assert not (tmp_path / "final.pt").exists()
    log = tmp_path / "burn_in.log"  # the rule log ends with the traceback's last line
    log.write_text(f"started\nTraceback ...\nRuntimeError: {message}\n")
    assert burn_in_failures([log, tmp_path / "none.log"]) == [f"{message} (log: {log})"]


@pytest.fixture(scope="module")
def two_sidetrips(tmp_path_factory):
    """A diverged side-trip (constant, lr 1e4) and a healthy one (ema_schedule, lr 0.1) from one
    burn-in, each written as its rule writes it (metrics Parquet, provenance naming the branch)."""
    from lrtraj.metrics import write_parquet
    from lrtraj.provenance import sha256_file

    tmp = tmp_path_factory.mktemp("two_sidetrips")
    burn_in(tmp, steps=20, every=10)
    branch = tmp / "final.pt"
    paths = []
    for method, lr in (("constant", 1e4), ("ema_schedule", 0.1)):
        trip = SideTrip(
            branch_step=20,
            data_seed=3,
            method=method,
            steps=20,
            lr=lr,
            eval_every=10,
            averaging={"ema": {"beta": 0.9}},
        )
        df = run_sidetrip(trip, branch_checkpoint=branch, training=RUN, batch_size=16)
        paths.append(tmp / f"{method}.parquet")
        prov = {"rule": "sidetrip", "inputs": {str(branch): sha256_file(branch)}}
        write_parquet(df, paths[-1], prov)
    return paths


def test_a_diverged_sidetrip_is_named_in_the_summary(tmp_path, two_sidetrips):
    from lrtraj.analysis.sidetrips import summarize
    from lrtraj.divergence import diverged_runs
    from lrtraj.plots.tables import write_sidetrip_summary

    paths = two_sidetrips
    [run] = diverged_runs([*paths, tmp_path / "not_built.parquet"])
    assert (run.method, run.branch_step, run.data_seed) == ("constant", 20, 3)
    assert 20 < run.step <= 40 and "sidetrips.lr" in run.line()
    md = tmp_path / "summary.md"
    write_sidetrip_summary(summarize(paths, ["test"]), md, diverged=[run.line()])
    assert "1 side-trip run(s) diverged" in md.read_text() and run.line() in md.read_text()


def test_when_every_run_diverged_no_final_value_is_taken_from_where_they_stopped(two_sidetrips):
    from lrtraj.analysis.sidetrips import final_comparison, load_sidetrips

    diverged = load_sidetrips([two_sidetrips[0]])  # the constant run and its averages
    assert diverged["value"].notna().any()  # it was evaluated before it diverged
    cmp = final_comparison(diverged, "test")
    assert len(cmp) and cmp[["baseline", "average"]].isna().all().all()
    both = final_comparison(load_sidetrips(two_sidetrips), "test")
    assert both["schedule"].notna().all() and both["baseline"].isna().all()


@pytest.mark.parametrize("figure", ["fig5", "fig1", "fig14", "fig10"])
def test_side_trip_figures_and_their_report_captions_name_the_diverged_run(
    tmp_path, two_sidetrips, figure
):
    from docutils.core import publish_parts

    from lrtraj.divergence import diverged_runs
    from lrtraj.plots import sidetrips

    [run] = diverged_runs(two_sidetrips)
    pdf, paths = tmp_path / f"{figure}.pdf", two_sidetrips
    kwargs = {
        "fig5": {"split": "test", "families": ["ema"]},
        "fig1": {"split": "test", "family": "ema"},
        "fig14": {"families": ["ema"]},
        "fig10": {"split": "test", "family": "ema"},
    }[figure]
    if figure == "fig10":
        paths = {"noisy": paths}
    getattr(sidetrips, figure)(paths, pdf, provenance={}, **kwargs)
    caption = json.loads(pdf.with_suffix(".json").read_text())["caption"]
    assert "1 run(s) diverged (training loss not finite" in caption
    assert f"constant (seed 3) at step {run.step}" in caption and "nan" not in caption
    # the report's static caption includes this file: the rendered text says the same
    html = publish_parts(pdf.with_suffix(".caption.rst").read_text(), writer="html")["body"]
    assert f"constant (seed 3) at step {run.step}" in html and "Measured:" in html


def test_fig5_marks_where_a_diverged_run_was_last_evaluated(tmp_path, two_sidetrips, monkeypatch):
    import numpy as np
    from matplotlib.collections import PathCollection

    from lrtraj.analysis.sidetrips import load_sidetrips
    from lrtraj.plots import sidetrips

    drawn = []
    monkeypatch.setattr(sidetrips, "save_figure", lambda fig, *args: drawn.append(fig))
    sidetrips.fig5(
        two_sidetrips, tmp_path / "fig5.pdf", split="test", families=["ema"], provenance={}
    )
    df = load_sidetrips(two_sidetrips)
    run = df[df["diverged"] & (df["split"] == "test") & (df["metric"] == "accuracy")]
    # the constant run's two curves (the baseline and the EMA average it carries), each crossed
    # at its last finite evaluation
    finite = run[np.isfinite(run["value"])].sort_values("sidetrip_step")
    last = finite.groupby(["family", "kind"]).tail(1)
    expected = sorted(zip(last["sidetrip_step"].astype(float), 100 * last["value"], strict=True))
    accuracy = drawn[0].axes[0]  # row 0: accuracy in %
    crosses = [c.get_offsets() for c in accuracy.collections if type(c) is PathCollection]
    assert sorted(tuple(xy) for c in crosses for xy in c.tolist()) == expected
    assert sidetrips.DIVERGED_LABEL in accuracy.get_legend_handles_labels()[1]


def test_a_diverged_runs_rows_and_metadata_are_marked_a_healthy_ones_not(two_sidetrips):
    from lrtraj.metrics import TRAINING_COLUMNS, read_diverged, read_parquet

    diverged, healthy = (read_parquet(p) for p in two_sidetrips)
    assert list(diverged.columns) == list(TRAINING_COLUMNS)
    assert diverged["diverged"].dtype == bool and diverged["diverged"].all()
    assert set(diverged["method"]) == {"constant", "ema"}  # the average's rows too
    assert not healthy["diverged"].any() and np.isfinite(healthy["value"].dropna()).all()
    batch = diverged[diverged.split == "train_batch"]
    first_bad = int(batch.loc[~np.isfinite(batch["value"]), "step"].min())
    [record] = read_diverged(two_sidetrips[0])
    assert record == {
        "phase": "sidetrip",
        "method": "constant",
        "branch_step": 20,
        "data_seed": 3,
        "step": first_bad,
    }
    assert read_diverged(two_sidetrips[1]) == []


def test_audit_names_the_diverged_run_among_a_figures_inputs(tmp_path, two_sidetrips, capsys):
    from lrtraj.audit import audit
    from lrtraj.cli import main
    from lrtraj.metrics import read_diverged
    from lrtraj.plots.sidetrips import fig5
    from lrtraj.provenance import sha256_file

    paths = two_sidetrips
    prov = {"rule": "fig5", "inputs": {str(p): sha256_file(p) for p in paths}}
    fig5(paths, tmp_path / "fig5.pdf", split="test", families=["ema"], provenance=prov)
    [step] = [run["step"] for run in read_diverged(paths[0])]
    [run] = audit(tmp_path / "fig5.pdf").divergences()
    assert (run.method, run.branch_step, run.data_seed, run.step) == ("constant", 20, 3, step)
    assert run.path == str(paths[0])
    assert main(["audit", str(tmp_path / "fig5.pdf")]) == 0  # news, not a provenance fault
    out = capsys.readouterr().out
    assert "1 diverged run(s) among its inputs:" in out and run.line() in out
    [line] = [ln for ln in out.splitlines() if str(paths[0]) in ln and "[ok]" in ln]
    assert f"diverged: constant (seed 3) at step {step}" in line
    assert not any("diverged" in ln for ln in out.splitlines() if str(paths[1]) in ln)
    assert main(["audit", str(tmp_path / "fig5.pdf"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["diverged"] == [run.line()]


def test_a_stopped_run_logs_its_step_and_where_it_resumes_from(tmp_path, monkeypatch, caplog):
    from lrtraj import sidetrips

    burn_in(tmp_path, steps=20, every=20)
    trip = SideTrip(branch_step=20, data_seed=1, method="constant", steps=30, lr=0.1, eval_every=10)
    loop = sidetrips.sgd_loop

    def interrupted_at_27(*args, **kwargs):
        def ctrl_c(step, _model):
            if step == 27:
                raise KeyboardInterrupt

        return loop(*args, **{**kwargs, "callbacks": [ctrl_c]})

    monkeypatch.setattr(sidetrips, "sgd_loop", interrupted_at_27)
    resume = tmp_path / "trip.resume.pt"
    with pytest.raises(KeyboardInterrupt):
        run_sidetrip(
            trip,
            branch_checkpoint=tmp_path / "final.pt",
            training=RUN,
            batch_size=16,
            resume_path=resume,
            checkpoint_every=5,
        )
    assert checkpoint.load(resume)["step"] == 25
    stop = [r.getMessage() for r in caplog.records if "stopped at step" in r.getMessage()]
    assert stop == [
        f"constant: stopped at step 27 by KeyboardInterrupt; resume state of step 25 is in {resume}"
    ]
