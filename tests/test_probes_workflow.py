"""Integration: the probe rules of the real DAG on the tiny config, in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lrtraj.analysis.probe_claims import probe_claims
from lrtraj.config import with_defaults
from lrtraj.metrics import read_provenance
from lrtraj.probes import (
    ALIGNMENT_COLUMNS,
    FIXED_BATCH_COLUMNS,
    INTERPOLATION_COLUMNS,
    SWEEP_COLUMNS,
)
from tests.test_workflow import TINY, planned_jobs, snakemake

pytestmark = pytest.mark.integration

FIGURES = ["fig2", "fig3", "fig7", "fig12", "fig13"]
TARGETS = [f"results/figures/{name}.pdf" for name in FIGURES]
PROBES = {
    "probes": {
        "sweep": {"checkpoints": [40, 60], "batch_sizes": [16, 32], "num_lrs": 7},
        "fig2": {"checkpoint": 60, "batch_size": 16},
        "fixed_batch": {
            "branch_steps": [40, 60],
            "batch_size": 16,
            "steps": 20,
            "record_every": 5,
        },
        "alignment": {"branch_step": 40, "steps": 20, "measure_every": 5},
    }
}


@pytest.fixture(scope="module")
def probe_overlay(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "probes.yaml"
    path.write_text(yaml.safe_dump(PROBES))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, probe_overlay) -> Path:
    workdir = tmp_path_factory.mktemp("probes_dag")
    snakemake(workdir, *TARGETS, configs=(TINY, probe_overlay))
    return workdir


def test_probe_figures_are_built_with_measured_captions(run):
    for name in FIGURES:
        pdf = run / "results" / "figures" / f"{name}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        assert pdf.with_suffix(".png").stat().st_size > 10_000
        sidecar = json.loads(pdf.with_suffix(".json").read_text())
        assert any(ch.isdigit() for ch in sidecar["caption"])
        assert all(len(h) == 64 for h in sidecar["provenance"]["inputs"].values())
    fig3 = json.loads((run / "results/figures/fig3.json").read_text())["caption"]
    assert "barrier" in fig3.lower() and "batch statistics" in fig3


def test_probe_tables_follow_the_documented_schemas(run):
    probes = run / "results" / "tiny" / "probes"
    tables = {
        "sweep/step40.parquet": SWEEP_COLUMNS,
        "sweep/step60.parquet": SWEEP_COLUMNS,
        "fixed_batch/trajectories.parquet": FIXED_BATCH_COLUMNS,
        "fixed_batch/interpolation.parquet": INTERPOLATION_COLUMNS,
        "alignment.parquet": ALIGNMENT_COLUMNS,
    }
    for name, columns in tables.items():
        df = pd.read_parquet(probes / name)
        assert list(df.columns) == list(columns), name
        assert read_provenance(probes / name)["rule"].startswith("probe_")
    sweep = pd.read_parquet(probes / "sweep/step60.parquet")
    loss = sweep[sweep["metric"] == "loss"]
    assert sorted(loss["batch_size"].unique()) == [16, 32]
    assert loss["lr"].nunique() == 1 + 7  # the grid and lr = 0
    fixed = loss[(loss["batch"] == "fixed") & (loss["batch_size"] == 16)].set_index("lr")
    assert np.nanmin(fixed["value"].to_numpy()) < fixed.loc[0.0, "value"]
    interp = pd.read_parquet(probes / "fixed_batch/interpolation.parquet")
    assert set(interp["kind"]) == {"endpoints", "to_branch"}
    assert interp.groupby("path")["alpha"].nunique().min() >= 21


def test_probe_claims_are_measured_from_the_tables(run):
    probes = run / "results" / "tiny" / "probes"
    rows = probe_claims(
        {
            "probe_sweep": [str(p) for p in sorted((probes / "sweep").glob("*.parquet"))],
            "burn_in": [str(run / "results/tiny/burn_in/metrics.parquet")],
            "probe_interpolation": [str(probes / "fixed_batch/interpolation.parquet")],
            "probe_alignment": [str(probes / "alignment.parquet")],
        },
        with_defaults("claims", {}),
    )
    assert [r["claim"] for r in rows] == ["1a", "1b", "1c", "2", "5a", "5b"]
    verdicts = {"pass", "fail", "inconclusive"}
    assert all(r["verdict"] in verdicts and np.isfinite(r["effect"]) for r in rows)
    assert all(r["n"] == len(r["replicates"]) > 0 for r in rows)
    assert {r["verdict"] for r in probe_claims({}, with_defaults("claims", {}))} == {"not built"}


def test_probes_are_up_to_date_and_rerun_only_what_reads_a_key(run, probe_overlay, tmp_path):
    assert planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, probe_overlay))) == {}
    overlay = tmp_path / "gd.yaml"
    overlay.write_text(yaml.safe_dump({"probes": {"fixed_batch": {"lr": 0.3}}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, probe_overlay, overlay)))
    assert jobs == {"probe_fixed_batch": 1, "fig3": 1}
    overlay.write_text(yaml.safe_dump({"probes": {"fig2": {"batch_size": 32}}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, probe_overlay, overlay)))
    assert jobs == {"fig2": 1}


def test_paper_scale_probes_plan(tmp_path):
    imagenet = Path(__file__).resolve().parents[1] / "config" / "imagenet.yaml"
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/figures/fig2.pdf", configs=(imagenet,)))
    assert jobs == {"burn_in": 1, "probe_sweep": 1, "fig2": 1}
