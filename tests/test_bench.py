"""The benchmark scripts still run (smoke sizes on CPU); their numbers are never asserted."""

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_device_check_runs_in_smoke_mode(tmp_path):
    out = run_script("bench/device_check.py", "--smoke", "--out", str(tmp_path))
    assert "engine / bare (eager)" in out
    report = json.loads((tmp_path / "device_check.json").read_text())
    smoke = report["throughput"]["smoke"]
    for contender in ("bare_eager", "engine_eager", "engine_stream"):
        assert smoke[contender]["images_per_s"] > 0, smoke[contender]  # a dict, not "failed: ..."
    assert smoke["gflop_per_image"] > 0 and "engine_stream_host_syncs" in smoke
    assert "inplace" in report["sweep"] and "vmap" in report["sweep"]
    for name in ("cifar10", "cifar100"):
        losses = report["sidetrips"]["experiments"][name]["test_loss"]
        assert all(math.isfinite(v) for v in losses.values())
    assert (tmp_path / "fig10.pdf").is_file()
    assert len(list(tmp_path.rglob("*"))) <= 8  # what a device run can bring back


def test_dag_benchmark_plans_over_a_thousand_jobs():
    out = run_script("bench/bench_dag.py", "--repeats", "1")
    jobs = int(out.split(" jobs")[0].rsplit(" ", 1)[-1])
    assert jobs >= 1000
