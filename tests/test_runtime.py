"""Rule logs: a requeued or rerun job appends to its log under a header per attempt."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from lrtraj.runtime import job, log


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def _attempt(log_path, message):
    smk = SimpleNamespace(log=[str(log_path)], threads=1, rule="burn_in", params={})
    with job(smk):
        log.info(message)


def test_second_attempt_keeps_the_first_attempts_lines(tmp_path, monkeypatch, restore_logging):
    path = tmp_path / "logs" / "burn_in.log"
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    _attempt(path, "step 300 of 600, preempted")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    _attempt(path, "resumed at step 300")

    lines = path.read_text().splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("===== lrtraj attempt")]
    assert len(headers) == 2
    first, second = lines[headers[0] : headers[1]], lines[headers[1] :]
    assert first[0].startswith("===== lrtraj attempt 1 |") and "SLURM" not in first[0]
    assert any("step 300 of 600, preempted" in line for line in first)
    assert second[0].startswith("===== lrtraj attempt 2 |")
    assert "SLURM job 4242 (requeue 1)" in second[0]
    assert any("resumed at step 300" in line for line in second)
    assert not any("preempted" in line for line in second)
