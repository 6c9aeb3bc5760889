"""After a run: what each SLURM job used (from sacct), and pruning of old logs.

``python -m snakemake_executor_plugin_submitit.report [RUN_FOLDER]`` prints the report of a run
(default: the newest under ``.snakemake/submitit``); the executor writes it to
``<run folder>/cluster_report.md`` when it shuts down.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

REPORT_FIELDS = (
    "JobID",
    "JobName",
    "Partition",
    "State",
    "Elapsed",
    "TotalCPU",
    "AllocCPUS",
    "MaxRSS",
    "AllocTRES",
)


def seconds(text: str) -> float:
    """sacct's ``[days-]hh:mm:ss[.ms]`` / ``mm:ss.ms`` durations in seconds."""
    days, _, clock = text.rpartition("-")
    parts = [float(p) for p in clock.split(":")] if clock else [0.0]
    value = 0.0
    for part in parts:
        value = value * 60 + part
    return float(days or 0) * 86400 + value


def report_rows(text: str) -> list[dict[str, str]]:
    """``sacct --parsable2`` lines of REPORT_FIELDS -> one row per job, with the largest MaxRSS
    of its steps (the allocation line has none) and CPU efficiency = TotalCPU / (Elapsed x
    AllocCPUS)."""
    jobs: dict[str, dict[str, str]] = {}
    rss: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != len(REPORT_FIELDS):
            continue
        row = dict(zip(REPORT_FIELDS, parts, strict=True))
        job_id, _, step = row["JobID"].partition(".")
        if row["MaxRSS"]:
            rss[job_id] = max(rss.get(job_id, 0.0), _bytes(row["MaxRSS"]))
        if not step:
            jobs[job_id] = row
    for job_id, row in jobs.items():
        wall = seconds(row["Elapsed"]) * max(1, int(row["AllocCPUS"] or 1))
        row["CPUEff"] = f"{100 * seconds(row['TotalCPU']) / wall:.0f}%" if wall else "-"
        row["MaxRSS"] = f"{rss[job_id] / 2**20:.0f}M" if job_id in rss else "-"
        tres = dict(t.split("=", 1) for t in row["AllocTRES"].split(",") if "=" in t)
        row["GPUs"] = tres.get("gres/gpu", "0")
    return list(jobs.values())


def _bytes(text: str) -> float:
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text or 0)


def render(rows: Iterable[dict[str, str]]) -> str:
    columns = ("JobID", "JobName", "Partition", "State", "Elapsed", "AllocCPUS", "CPUEff")
    columns += ("MaxRSS", "GPUs")
    lines = [
        "# SLURM jobs of this run (from sacct)",
        "",
        "CPU efficiency = TotalCPU / (Elapsed x AllocCPUS); MaxRSS over the job's steps. "
        "Request fewer CPUs or less memory next time where these are low.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def sacct_report(job_ids: Iterable[str]) -> str:
    command = ["sacct", "--noheader", "--parsable2", "--format", ",".join(REPORT_FIELDS)]
    command += ["--jobs", ",".join(sorted(set(job_ids)))]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return render(report_rows(proc.stdout))


def write_report(job_ids: Iterable[str], path: Path) -> None:
    path.write_text(sacct_report(job_ids))


def prune_logs(folder: Path, keep_days: float, now: float | None = None) -> int:
    """Delete the files of successful jobs whose log is older than ``keep_days`` (a failed job's
    log, or one without a result, stays); then empty folders. Returns the logs deleted."""
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    pruned = 0
    for log in folder.glob("*/*/*_log.out"):
        job = log.name[: -len("_0_log.out")] if log.name.endswith("_0_log.out") else None
        if job is None or log.stat().st_mtime > cutoff:
            continue
        result = log.with_name(f"{job}_0_result.pkl")
        try:
            with result.open("rb") as f:
                if pickle.load(f)[0] != "success":
                    continue
        except (OSError, EOFError, pickle.UnpicklingError, IndexError, TypeError):
            continue
        for path in log.parent.glob(f"{job}_*"):
            path.unlink(missing_ok=True)
        pruned += 1
    for directory in sorted(folder.glob("*/*"), reverse=True) + sorted(folder.glob("*")):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    return pruned


def main(argv: list[str]) -> None:
    if argv:
        run = Path(argv[0])
    else:
        runs = sorted(p for p in Path(".snakemake/submitit").glob("*") if p.is_dir())
        if not runs:
            sys.exit("no run folder under .snakemake/submitit")
        run = runs[-1]
    ids = {log.name.rsplit("_", 2)[0] for log in run.glob("*/*_log.out")}
    if not ids:
        sys.exit(f"no SLURM job logs in {run}")
    print(sacct_report(ids), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
