"""Dry runs: every experiment (the config's own and each of `variants`) gets the same probes,
figures and scorecard from its own runs; `all` builds the config's own experiment as before."""

from __future__ import annotations

import pytest

from lrtraj import config as lrconfig
from lrtraj.quadratic.experiments import EXPERIMENTS as QUADRATIC
from lrtraj.schedules import sidetrip_methods
from tests.test_probes_workflow import TARGETS as PROBE_TARGETS
from tests.test_workflow import TARGETS, TINY, TINY_CFG, planned_files, planned_jobs, snakemake

pytestmark = pytest.mark.integration

VARIANT = "tiny_noise"
EXPERIMENTS = lrconfig.experiments(TINY_CFG)
# the targets users and docs know for the config's own experiment, and the shared ones
KNOWN = [
    *TARGETS,
    *PROBE_TARGETS,
    *(f"results/figures/{fig}.pdf" for spec in QUADRATIC.values() for fig in spec.figures),
]
# what an experiment builds from its own runs (the rest is drawn once: fig10, table1, quadratic)
OWN = {"fig5", "fig1", "fig6", "fig8", "fig14", "fig2", "fig3", "fig7", "fig12", "fig13"}


def dry(workdir, *targets: str):
    proc = snakemake(workdir, "-n", *targets)
    return planned_jobs(proc), proc


def test_a_variants_fig5_reads_the_variants_side_trips_and_burn_in(tmp_path):
    jobs, proc = dry(tmp_path, f"results/{VARIANT}/figures/fig5.pdf")
    trips = EXPERIMENTS[VARIANT]["sidetrips"]
    per_seed = len(sidetrip_methods(trips["averaging"], trips["linear_decay"]))
    assert jobs == {"burn_in": 1, "sidetrip": per_seed * len(trips["data_seeds"]), "fig5": 1}
    inputs, outputs = planned_files(proc, "input"), planned_files(proc)
    assert inputs["fig5"] and all(
        p.startswith(f"results/{VARIANT}/sidetrips/") for p in inputs["fig5"]
    )
    assert all(p.startswith(f"results/{VARIANT}/burn_in/") for p in outputs["burn_in"])
    assert all(p.startswith(f"results/{VARIANT}/burn_in/") for p in inputs["sidetrip"])
    assert outputs["fig5"] == {
        f"results/{VARIANT}/figures/fig5.{ext}" for ext in ("pdf", "png", "json", "caption.rst")
    }
    assert planned_files(proc, "log")["fig5"] == {f"logs/{VARIANT}/figures/fig5.log"}


def test_a_variants_probes_and_scorecard_read_its_own_runs(tmp_path):
    targets = [f"results/{VARIANT}/figures/{n}.pdf" for n in ("fig2", "fig3", "fig7", "fig12")]
    _, proc = dry(tmp_path, *targets, f"results/{VARIANT}/claims.md")
    inputs, outputs = planned_files(proc, "input"), planned_files(proc)
    for rule in ("probe_sweep", "probe_fixed_batch", "probe_alignment"):
        assert all(p.startswith(f"results/{VARIANT}/probes/") for p in outputs[rule]), rule
        assert all(p.startswith(f"results/{VARIANT}/burn_in/") for p in inputs[rule]), rule
    own = {p for p in inputs["claims"] if not p.startswith("results/quadratic/")}
    assert own and all(p.startswith(f"results/{VARIANT}/") for p in own)  # no fig10 of others
    assert outputs["claims"] == {f"results/{VARIANT}/claims.{e}" for e in ("parquet", "md")}


def test_all_builds_the_known_default_targets_and_nothing_of_a_variant(tmp_path):
    jobs, proc = dry(tmp_path, "all")
    known, known_proc = dry(tmp_path, *KNOWN)
    jobs.pop("all")
    assert jobs == known
    files = planned_files(proc)
    files.pop("all")
    assert files == planned_files(known_proc)
    made = {p for paths in files.values() for p in paths}
    assert not any(
        p.startswith((f"results/{VARIANT}/figures", f"results/{VARIANT}/probes")) for p in made
    )


def test_all_experiments_adds_each_variants_own_figures(tmp_path):
    base, _ = dry(tmp_path, "all")
    every, proc = dry(tmp_path, "all_experiments")
    base.pop("all"), every.pop("all_experiments")
    variants = len(EXPERIMENTS) - 1
    assert variants >= 1
    for rule in OWN | {"claims", "claims_figure"}:
        assert every[rule] == base[rule] * (1 + variants), rule
    for rule in ("fig10", "table1", "quadratic_figure", "effective_config", "burn_in"):
        assert every[rule] == base[rule], rule  # drawn once; fig10 trains every experiment
    figures = planned_files(proc)["fig12"]
    assert {f"results/{VARIANT}/figures/fig12.pdf", "results/figures/fig12.pdf"} <= figures


def test_a_variant_cannot_take_the_name_of_a_shared_result(tmp_path):
    overlay = tmp_path / "clash.yaml"
    overlay.write_text("variants: {figures: {data: {noise_sigma: 1.5}}}\n")
    proc = snakemake(tmp_path, "-n", configs=(TINY, overlay), check=False)
    assert proc.returncode != 0 and "variants: ['figures'] name an entry of results/" in (
        proc.stdout + proc.stderr
    )
