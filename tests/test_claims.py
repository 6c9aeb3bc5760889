"""The scorecard's statistics on synthetic inputs with known answers (docs/claims.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lrtraj.analysis.claims import (
    averaging_matches_schedule,
    claim_row,
    tidy,
    two_point_beats_baseline,
)
from lrtraj.analysis.stats import ols_change, t_interval, verdict
from lrtraj.averaging import FAMILIES


def _summary(rng, n, gain, gap, sd=0.002, family="two_point"):
    """Side-trip summary rows: baseline, average = baseline − gain, schedule = average − gap."""
    base = 0.45 + rng.normal(0, 0.01, n)
    avg = base - gain + rng.normal(0, sd, n)
    sched = avg - gap + rng.normal(0, sd, n)
    return pd.DataFrame(
        {
            "branch_step": 600, "split": "test", "family": family, "metric": "loss",
            "data_seed": np.arange(n), "baseline": base, "average": avg, "schedule": sched,
        }
    )  # fmt: skip


def test_true_effect_is_found():
    rng = np.random.default_rng(0)
    row = two_point_beats_baseline(_summary(rng, 6, gain=0.02, gap=0.0), "test", "x")
    assert row["verdict"] == "pass"
    assert row["high"] < 0 and row["effect"] == pytest.approx(-0.02, abs=0.005)


def test_null_effect_is_not_a_pass():
    rng = np.random.default_rng(1)
    verdicts = [
        two_point_beats_baseline(_summary(rng, 6, gain=0.0, gap=0.0), "test", "x")["verdict"]
        for _ in range(200)
    ]
    # a null effect passes a one-sided 95 % rule at most ~2.5 % of the time
    assert verdicts.count("pass") / len(verdicts) < 0.06
    assert "inconclusive" in verdicts


def test_interval_covers_at_its_nominal_rate():
    rng = np.random.default_rng(2)
    hits = []
    for _ in range(2000):
        ci = t_interval(rng.normal(1.5, 0.3, 5))
        hits.append(ci.low <= 1.5 <= ci.high)
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)


def test_regression_change_covers_at_its_nominal_rate():
    rng = np.random.default_rng(3)
    x = np.arange(12.0)
    hits = []
    for _ in range(1000):
        ci = ols_change(x, 0.1 * x + rng.normal(0, 0.2, x.size))
        hits.append(ci.low <= 0.1 * 11 <= ci.high)
    assert np.mean(hits) == pytest.approx(0.95, abs=0.025)


def test_equivalence_passes_within_and_fails_outside_the_margin():
    rng = np.random.default_rng(4)
    claim = FAMILIES["two_point"].claim
    near = averaging_matches_schedule(_summary(rng, 6, gain=0.03, gap=0.0), 0.5, "test")
    far = averaging_matches_schedule(_summary(rng, 6, gain=0.03, gap=0.03), 0.5, "test")
    pick = {r["claim"]: r for r in near}, {r["claim"]: r for r in far}
    assert pick[0][claim]["verdict"] == "pass"
    assert pick[0][claim]["margin"] == pytest.approx(0.015, abs=0.003)
    assert pick[1][claim]["verdict"] == "fail"


def test_straddling_interval_is_inconclusive():
    rng = np.random.default_rng(5)
    rows = averaging_matches_schedule(_summary(rng, 3, 0.03, 0.012, sd=0.006), 0.5, "test")
    row = next(r for r in rows if r["claim"] == FAMILIES["two_point"].claim)
    assert row["low"] < row["margin"] < row["high"]
    assert row["verdict"] == "inconclusive"


def test_no_gain_over_baseline_fails_equivalence():
    rng = np.random.default_rng(6)
    rows = averaging_matches_schedule(_summary(rng, 6, gain=-0.02, gap=0.0), 0.5, "test")
    assert next(r for r in rows if r["claim"] == FAMILIES["two_point"].claim)["verdict"] == "fail"


def test_diverged_seed_fails_and_is_named():
    summary = _summary(np.random.default_rng(7), 4, gain=0.02, gap=0.0)
    summary.loc[2, "average"] = np.nan
    row = two_point_beats_baseline(summary, "test", "x")
    assert row["verdict"] == "fail"
    assert "2@600" in row["detail"]


def test_verdict_rules():
    ci = t_interval([0.9, 1.0, 1.1])
    assert verdict(ci, ">", 0.5) == "pass"
    assert verdict(ci, "<", 0.5) == "fail"
    assert verdict(ci, ">", 1.0) == "inconclusive"
    assert verdict(ci, "≈", 2.0) == "pass"
    assert verdict(ci, "≈", 0.5) == "fail"


def test_tidy_scorecard_keeps_every_replicate():
    row = claim_row("4", "fig1", "s", "d", "data seed", {"0": -1.0, "1": -1.2, "2": -0.8}, "<", 0.0)
    card = tidy([row])
    assert list(card["replicate"]) == ["0", "1", "2"]
    assert list(card["value"]) == [-1.0, -1.2, -0.8]
    assert np.allclose(card["effect"], -1.0) and (card["verdict"] == "pass").all()
