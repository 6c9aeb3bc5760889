"""Live metrics: TensorBoard event files hold the Parquet rows' tags and steps; numerics same."""

import pandas as pd
import pytest
import torch

from lrtraj.sidetrips import SideTrip, run_sidetrip
from lrtraj.trajectory import TrajectoryConfig, run_burn_in
from tests.test_train import RUN

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def expected(df: pd.DataFrame) -> dict[str, list[tuple[int, float]]]:
    tags = df["split"] + "/" + df["metric"]
    tags = tags.where(df["kind"] != "average", tags + "/" + df["method"])
    out: dict[str, list[tuple[int, float]]] = {}
    for tag, step, value in zip(tags, df["step"], df["value"], strict=True):
        out.setdefault(tag, []).append((int(step), float(value)))
    return out


def assert_matches(scalars, df):
    want = expected(df)
    lr = scalars.pop("train_batch/lr")
    assert set(scalars) == set(want)
    for tag, points in want.items():
        got = sorted(scalars[tag])
        assert [s for s, _ in got] == sorted(s for s, _ in points), tag
        # event files hold float32
        assert [v for _, v in got] == pytest.approx([v for _, v in sorted(points)], rel=1e-6)
    batch = df[df["split"] == "train_batch"]
    assert sorted(s for s, _ in lr) == sorted(batch["step"])


def burn_in(tmp, board=None):
    return run_burn_in(
        RUN,
        TrajectoryConfig(lr=0.1, batch_size=16, steps=60, data_seed=0, eval_every=20),
        checkpoints={60: tmp / "final.pt"},
        state_dir=tmp / "state",
        checkpoint_every=25,
        log_every=10,
        tensorboard_dir=board,
    )


def test_burn_in_and_sidetrip_stream_their_rows(tmp_path):
    torch.set_num_threads(1)
    board = tmp_path / "tensorboard"
    plain = burn_in(tmp_path / "plain")
    live = burn_in(tmp_path / "live", board / "burn_in")
    pd.testing.assert_frame_equal(plain, live)
    assert_matches(read_scalars(board / "burn_in"), live)
    assert {0, 20, 40, 60} <= {s for s, _ in read_scalars(board / "burn_in")["test/accuracy"]}

    trip = SideTrip(
        branch_step=60,
        data_seed=1,
        method="constant",
        steps=30,
        lr=0.1,
        eval_every=10,
        averaging={"ema": {"beta": 0.9}},
    )
    kwargs = dict(branch_checkpoint=tmp_path / "live" / "final.pt", training=RUN, batch_size=16)
    plain = run_sidetrip(trip, **kwargs)
    live = run_sidetrip(trip, **kwargs, tensorboard_dir=board / "sidetrip")
    pd.testing.assert_frame_equal(plain, live)
    assert (live["kind"] == "average").any()  # the EMA's rows get their own tags
    assert_matches(read_scalars(board / "sidetrip"), live)


def test_a_resumed_run_appends_without_duplicates(tmp_path, monkeypatch):
    import shutil

    from tests.test_train import _preempted_at

    torch.set_num_threads(1)
    burn_in(tmp_path)
    trip = SideTrip(branch_step=60, data_seed=1, method="constant", steps=40, lr=0.1, eval_every=10)
    kwargs = dict(branch_checkpoint=tmp_path / "final.pt", training=RUN, batch_size=16)
    resume, board = tmp_path / "side.resume.pt", tmp_path / "tensorboard"
    run = lambda: run_sidetrip(  # noqa: E731
        trip, **kwargs, resume_path=resume, checkpoint_every=100, tensorboard_dir=board
    )
    _preempted_at(73, monkeypatch, run)  # between evaluations and checkpoints
    shutil.copy(resume, tmp_path / "saved.pt")
    run()  # an attempt that writes past the resume file, as a killed one does
    shutil.copy(tmp_path / "saved.pt", resume)
    resumed = run()  # from step 73 again: what the last attempt wrote after it is hidden
    assert_matches(read_scalars(board), resumed)


def test_without_tensorboard_only_a_run_that_asks_for_it_fails(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    burn_in(tmp_path / "plain")
    with pytest.raises(ImportError, match="tensorboard_dir=.*pip install tensorboard"):
        burn_in(tmp_path / "live", tmp_path / "tensorboard")
