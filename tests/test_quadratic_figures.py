"""Quadratic-model figures and config glue: every figure is drawn from a Parquet table of a tiny
run and lands as PDF + PNG + JSON sidecar; the repository config is consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lrtraj import config as lrconfig
from lrtraj.metrics import read_provenance, write_parquet
from lrtraj.plots import quadratic as qplots
from lrtraj.quadratic import experiments

REPO = Path(__file__).resolve().parents[1]

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
    experiment = {
        "fig4": "geometry",
        "fig9": "fast_slow",
        "fig11": "fast_slow",
        "lemma1": "lemma1",
        "appendix_a": "appendix_a",
    }[figure]
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
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    lrconfig.validate_schema(cfg)
    assert experiments.config_problems(cfg["quadratic"]) == []
    broken = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["quadratic"]
    broken["appendix_a"]["two_point_k"] = [broken["appendix_a"]["steps"] + 1]
    broken["fast_slow"]["lrs"] = [2.5]
    problems = experiments.config_problems(broken)
    assert any("two_point_k" in p for p in problems)
    assert any("fast_slow.lrs" in p for p in problems)
    cfg["quadratic"]["lemma1"]["unknown_key"] = 1
    with pytest.raises(lrconfig.ConfigError, match="quadratic.lemma1"):
        lrconfig.validate_schema(cfg)


def test_rule_file_declares_targets() -> None:
    text = (REPO / "workflow" / "rules" / "quadratic.smk").read_text()
    for fig in qplots.FIGURES:
        assert f'"results/figures/{fig}.pdf"' in text
        assert (REPO / "workflow" / "report" / f"{fig}.rst").is_file()
