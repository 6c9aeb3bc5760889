"""Planning cost: ``snakemake -n`` on a paper-scale config whose DAG holds over 1000 jobs.

    .venv/bin/python bench/bench_dag.py [--repeats 3]

The config is ``config/imagenet.yaml`` (ImageNet + its CIFAR-10/100 variants, ResNet-34, 100K
steps) with side-trips branched every 2500 steps from 2500 to 75000 on 8 data seeds: 30 x 8 x 5
= 1200 ImageNet side-trips, 1260 jobs in all. Goal: under 10 s for the whole ``snakemake -n``
(process start, config validation of every experiment, DAG, dry-run printout).

Measured 2026-11-29, 2-core x86_64, Snakemake 9.27: 1260 jobs, median 4.2 s of 3 runs (9.9 s
before the workflow stopped importing torch and scipy to plan).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrtraj.config import read_yaml

ROOT = Path(__file__).resolve().parents[1]


def dense_config(path: Path) -> None:
    import yaml

    cfg = read_yaml(ROOT / "config" / "imagenet.yaml")
    cfg["sidetrips"]["branch_steps"] = list(range(2500, 75001, 2500))
    cfg["sidetrips"]["data_seeds"] = list(range(8))
    path.write_text(yaml.safe_dump(cfg))


def dry_run(configfile: Path) -> tuple[float, int]:
    snakemake = Path(sys.executable).with_name("snakemake")
    start = time.perf_counter()
    out = subprocess.run(
        [str(snakemake), "-n", "--cores", "1", f"--configfile={configfile}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds = time.perf_counter() - start
    jobs = re.search(r"^total\s+(\d+)", out, re.MULTILINE)
    if jobs is None:
        raise RuntimeError(f"no job count in the dry run's output:\n{out[-2000:]}")
    return seconds, int(jobs.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "paper_dense.yaml"
        dense_config(cfg)
        runs = [dry_run(cfg) for _ in range(args.repeats)]
    seconds = statistics.median(s for s, _ in runs)
    print(
        f"snakemake -n, paper-scale config: {runs[0][1]} jobs, median {seconds:.2f} s "
        f"over {args.repeats} runs (goal <= 10 s)"
    )


if __name__ == "__main__":
    main()
