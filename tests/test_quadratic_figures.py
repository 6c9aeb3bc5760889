"""Quadratic-model figures and workflow glue: every figure is drawn from a Parquet table of a tiny
run and lands as PDF + PNG + JSON sidecar; the repository config is consistent; the workflow
reruns exactly the experiment whose config section changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
import yaml

from lrtraj import config as lrconfig
from lrtraj.metrics import read_provenance, write_parquet
from lrtraj.plots import quadratic as qplots
from lrtraj.quadratic import experiments

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
# figure -> the experiment whose table it is drawn from, as the registry declares it
FIGURE_EXPERIMENT = {
    figure: name for name, spec in experiments.EXPERIMENTS.items() for figure in spec.figures
}

TINY = {
    "geometry": {
        "eigenvalues": [1.0, 0.2],
        "angle_deg": 30.0,
        "noise_var": 1.0,
        "lr": 0.2,
        "burn_in": 100,
        "steps": 300,
        "gap": 60,
    },
    "fast_slow": {
        "dim_fast": 2,
        "dim_slow": 2,
        "a_fast": 1.0,
        "a_slow": 0.01,
        "batch_size": 10,
        "lrs": [0.5, 0.05],
        "ema_beta": 0.9,
        "steps": 400,
        "record_every": 20,
        "threshold": 0.05,
    },
    "lemma1": {
        "dim": 2,
        "w_var": 1.0,
        "batch_size": 5,
        "lrs": [0.05, 0.1, 0.5],
        "relax_times": 4.0,
        "thin": 5,
        "fit_max_lr": 0.1,
    },
    "appendix_a": {
        "eigenvalues": [0.1, 1.0],
        "lr": 0.2,
        "batch_size": 4,
        "steps": 120,
        "two_point_k": [1, 10, 100],
        "n_point_n": [1, 2, 3],
        "n_point_spacing": 20,
        "ema_betas": [0.5, 0.9],
        "grid_points": 20,
    },
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quadratic")
    out = {}
    for name, settings in TINY.items():
        df = experiments.run_experiment(name, seed=11, chains=48, settings=settings)
        path = root / f"{name}.parquet"
        write_parquet(df, path, {"rule": f"test_{name}", "params": settings})
        out[name] = path
    return out


@pytest.mark.parametrize("figure", sorted(qplots.FIGURES))
def test_figure_files(figure: str, tables: dict[str, Path], tmp_path: Path) -> None:
    experiment = FIGURE_EXPERIMENT[figure]
    assert read_provenance(tables[experiment])["rule"] == f"test_{experiment}"
    pdf = tmp_path / f"{figure}.pdf"
    caption = qplots.FIGURES[figure](tables[experiment], pdf, {"rule": "test"})
    assert pdf.stat().st_size > 1000
    assert pdf.with_suffix(".png").stat().st_size > 1000
    sidecar = json.loads(pdf.with_suffix(".json").read_text())
    assert sidecar["caption"] == caption and "monte carlo" in caption.lower()
    assert "theory" in caption.lower()


def test_schema_columns(tables: dict[str, Path]) -> None:
    import pandas as pd

    for path in tables.values():
        df = pd.read_parquet(path)
        assert list(df.columns) == list(experiments.QUADRATIC_COLUMNS)
        assert set(df["source"]) <= {"theory", "monte_carlo"}


def test_repository_config_is_valid_and_consistent() -> None:
    cfg = yaml.safe_load(lrconfig.DEFAULT_CONFIG.read_text())
    lrconfig.validate_schema(cfg)
    assert experiments.config_problems(cfg["quadratic"]) == []
    broken = yaml.safe_load(lrconfig.DEFAULT_CONFIG.read_text())["quadratic"]
    broken["appendix_a"]["two_point_k"] = [broken["appendix_a"]["steps"] + 1]
    broken["fast_slow"]["lrs"] = [2.5]
    problems = experiments.config_problems(broken)
    assert any("two_point_k" in p for p in problems)
    assert any("fast_slow.lrs" in p for p in problems)
    cfg["quadratic"]["lemma1"]["unknown_key"] = 1
    with pytest.raises(lrconfig.ConfigError, match="quadratic.lemma1"):
        lrconfig.validate_schema(cfg)


def test_every_figure_has_one_experiment_and_its_own_report_caption() -> None:
    declared = [f for spec in experiments.EXPERIMENTS.values() for f in spec.figures]
    assert sorted(declared) == sorted(qplots.FIGURES)  # each drawn, each from one table
    template = jinja2.Template((REPO / "workflow" / "report" / "quadratic.rst").read_text())

    def caption(figure: str) -> tuple[str, str]:
        """(the figure's own text, the rest: the include of its measured caption)"""
        smk = SimpleNamespace(
            wildcards=SimpleNamespace(figure=figure),
            output=SimpleNamespace(caption=f"results/figures/{figure}.caption.rst"),
        )
        text, _, measured = template.render(snakemake=smk).partition(".. the values measured")
        return text.strip(), measured

    captions = {figure: caption(figure)[0] for figure in qplots.FIGURES}
    assert all(captions.values()) and len(set(captions.values())) == len(captions)
    assert caption("fig5")[0] == ""
    assert ".. include:: results/figures/fig9.caption.rst" in caption("fig9")[1]


def _snakemake(workdir: Path, *args: str, overlay: Path | None = None) -> str:
    configs = [str(TINY_CONFIG)] + ([str(overlay)] if overlay else [])
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "1", *args, "--configfile", *configs]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _planned(output: str) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table ({} when nothing is to be done)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Job stats")), None)
    if start is None:
        return {}
    counts = {}
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.integration
def test_editing_one_experiment_reruns_only_it(tmp_path: Path) -> None:
    targets = ["results/figures/lemma1.pdf", "results/quadratic/fast_slow.parquet"]
    assert _planned(_snakemake(tmp_path, "-n", *targets)) == {
        "quadratic_simulate": 2,
        "quadratic_figure": 1,
    }
    _snakemake(tmp_path, *targets)
    assert (tmp_path / "logs" / "quadratic" / "simulate_lemma1.log").is_file()
    assert (tmp_path / "benchmarks" / "quadratic" / "lemma1.tsv").is_file()
    assert _planned(_snakemake(tmp_path, "-n", *targets)) == {}
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"quadratic": {"lemma1": {"thin": 10}}}))
    jobs = _planned(_snakemake(tmp_path, "-n", *targets, overlay=overlay))
    assert jobs == {"quadratic_simulate": 1, "quadratic_figure": 1}
    overlay.write_text(yaml.safe_dump({"quadratic": {"seed": 7}}))
    jobs = _planned(_snakemake(tmp_path, "-n", *targets, overlay=overlay))
    assert jobs == {"quadratic_simulate": 2, "quadratic_figure": 1}


def test_corrupt_quadratic_parquet_names_the_file_and_how_to_rebuild(tmp_path: Path) -> None:
    """A damaged table gives the project's message, not a pyarrow traceback."""
    from lrtraj.metrics import UnreadableError
    from lrtraj.plots.quadratic.common import read_table

    bad = tmp_path / "lemma1.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(UnreadableError, match=r"lemma1\.parquet is corrupt.*rebuilds it"):
        read_table(bad)
