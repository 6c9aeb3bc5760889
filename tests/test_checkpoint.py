"""Checkpoints round-trip through weights_only loading; damage is reported by file name."""

import pathlib

import pytest
import torch

from lrtraj import checkpoint


def state():
    return {"model": {"w": torch.arange(6.0)}, "step": 7, "rows": [{"a": 1.0, "b": "x"}]}


def test_round_trip_with_recorded_hash(tmp_path):
    path = tmp_path / "c.pt"
    digest = checkpoint.save(state(), path)
    assert checkpoint.recorded_sha256(path) == digest
    loaded = checkpoint.load(path)
    assert loaded["step"] == 7 and torch.equal(loaded["model"]["w"], torch.arange(6.0))
    assert loaded["rows"] == [{"a": 1.0, "b": "x"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert path.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(state(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(checkpoint.CheckpointError, match="c.pt does not match its recorded sha256"):
        checkpoint.load(path)


def test_corrupt_checkpoint_without_hash_is_named(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="c.pt is corrupt or unreadable"):
        checkpoint.load(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "nope.pt")


def test_code_in_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": pathlib.Path("x")}, path)  # an arbitrary class instance
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or unreadable"):
        checkpoint.load(path)
