"""The reproduction scorecard: each claim of docs/theory.md §3 as an effect with a 95 % interval,
a decision rule with a margin, and a verdict (the reasoning per claim: docs/claims.md).

A claim's replicates are independent seeds (or, for the probes, the curves or batch pairs the
claim names); its effect is their mean with a t-interval (lrtraj.analysis.stats). The verdict
is "pass" when the whole interval meets the rule, "fail" when the whole interval breaks it,
"inconclusive" when it straddles the margin, "not built" when its metrics are absent; a
non-finite replicate (a diverged seed) makes the claim fail and is named in ``detail``.

Scorecard schema (``results/claims.parquet``; a variant's ``results/<variant>/claims.parquet``),
tidy: one row per claim and replicate, the claim's columns repeated on each of its rows::

    claim        str      "1a" .. "8" ("3a" EMA, "3b" two-point … from the averaging registry)
    figure       str      where the claim is drawn
    statement    str      the paper's claim, as tested
    statistic    str      what one replicate's value is
    unit         str      what a replicate is ("data seed", "sweep curve", …)
    replicate    str      this row's replicate ("" for a claim without replicates)
    value        float64  this replicate's value (NaN: diverged, or not built)
    n            int64    replicates of the claim
    effect       float64  their mean (a single value where n = 1)
    low, high    float64  95 % t-interval of the mean (NaN where n < 2)
    rule         str      "<", ">" or "≈" (|effect| < margin)
    margin       float64  the decision margin
    verdict      str      "pass", "fail", "inconclusive" or "not built"
    detail       str      how it was computed
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.analysis.stats import nonfinite, ols_change, t_interval, verdict
from lrtraj.averaging import FAMILIES
from lrtraj.metrics import read_parquet

CLAIM_FIELDS = [
    "claim", "figure", "statement", "statistic", "unit", "n", "effect", "low", "high",
    "rule", "margin", "verdict", "detail",
]  # fmt: skip
CLAIM_COLUMNS = CLAIM_FIELDS[:5] + ["replicate", "value"] + CLAIM_FIELDS[5:]
Inputs = Mapping[str, list[str]]


def claim_row(
    claim: str,
    figure: str,
    statement: str,
    statistic: str,
    unit: str,
    replicates: Mapping[Any, float],
    rule: str,
    margin: float,
    detail: str = "",
    interval: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """One claim: the mean of ``replicates`` with its t-interval (or a given ``interval``),
    judged by ``rule`` against ``margin``; a non-finite replicate fails it, named."""
    labels, values = list(replicates), [float(v) for v in replicates.values()]
    ci = t_interval(values)
    if interval is not None and np.isfinite(ci.effect):
        ci = type(ci)(ci.effect, interval[0], interval[1], max(ci.n, 2))
    bad = nonfinite(values, labels)
    if bad:
        detail = f"non-finite (diverged?) at {unit} {', '.join(bad)}; " + detail
    return {
        "claim": claim,
        "figure": figure,
        "statement": statement,
        "statistic": statistic,
        "unit": unit,
        "replicates": {str(k): v for k, v in zip(labels, values, strict=True)},
        "n": len(values),
        "effect": ci.effect,
        "low": ci.low,
        "high": ci.high,
        "rule": rule,
        "margin": float(margin),
        "verdict": "fail" if bad else verdict(ci, rule, margin),
        "detail": detail,
    }


def not_built(claim: str, figure: str, statement: str, why: str) -> dict[str, Any]:
    row = claim_row(claim, figure, statement, "", "", {}, "<", np.nan, why)
    return {**row, "verdict": "not built"}


def load_tables(paths: Sequence[str] | None) -> pd.DataFrame | None:
    if not paths or not all(Path(p).is_file() for p in paths):
        return None
    return pd.concat([read_parquet(p) for p in paths], ignore_index=True)


def _per_seed(sub: pd.DataFrame, values: pd.Series) -> dict[str, float]:
    return {
        f"{s}@{b}": v for s, b, v in zip(sub["data_seed"], sub["branch_step"], values, strict=True)
    }


def averaging_matches_schedule(summary: pd.DataFrame, fraction: float, split: str) -> list[dict]:
    """Claim 3, an equivalence test per registry family (``Family.claim``): the paired
    difference average − schedule lies within ±fraction × the average's mean gain over the
    constant-lr baseline (final ``split`` loss)."""
    rows = []
    loss = summary[(summary["metric"] == "loss") & (summary["split"] == split)]
    for fam in sorted((f for f in FAMILIES.values() if f.claim), key=lambda f: f.claim):
        sub = loss[loss["family"] == fam.name].sort_values(["branch_step", "data_seed"])
        statement = f"{fam.name} average ≈ its schedule, both far from constant lr"
        if sub.empty:
            rows.append(not_built(fam.claim, "fig5", statement, "no side-trips"))
            continue
        gain = t_interval((sub["baseline"] - sub["average"]).to_numpy())
        margin = fraction * gain.effect if np.isfinite(gain.effect) else np.nan
        detail = (
            f"margin = {fraction:g} × mean gain over constant lr "
            f"{gain.effect:.4f} [{gain.low:.4f}, {gain.high:.4f}]"
        )
        rows.append(
            claim_row(
                fam.claim,
                "fig5",
                statement,
                f"{split} loss: average − schedule",
                "data seed",
                _per_seed(sub, sub["average"] - sub["schedule"]),
                "≈",
                margin,
                detail,
            )
        )
    return rows


def two_point_beats_baseline(summary: pd.DataFrame, split: str, experiment: str) -> dict:
    """Claim 4: the paired difference two-point average − constant lr is below 0 (loss)."""
    sub = summary[
        (summary["family"] == "two_point")
        & (summary["metric"] == "loss")
        & (summary["split"] == split)
    ].sort_values(["branch_step", "data_seed"])
    statement = f"two-point average beats constant lr ({experiment})"
    if sub.empty:
        return not_built("4", "fig1", statement, "no two-point side-trips")
    return claim_row(
        "4",
        "fig1",
        statement,
        f"{split} loss: two-point average − constant lr",
        "data seed",
        _per_seed(sub, sub["average"] - sub["baseline"]),
        "<",
        0.0,
    )


def twins_distance(distances: pd.DataFrame, drop_min: float, change_max: float) -> list[dict]:
    """Claim 6 on the scale-invariant distance (mean over twin pairs per step): 6a it decreases
    (mean of the last half below (1 − drop_min) × start), 6b it saturates (the least-squares
    change over the last half, with its t-interval, within ±change_max × the drop)."""
    d = distances[distances["measure"] == "scale_invariant"].groupby("step")["distance"].mean()
    steps, dist = d.index.to_numpy(float), d.to_numpy()
    half = len(dist) // 2
    tail = dist[half:]
    start = dist[0]
    drop = start - tail.mean()
    change = ols_change(steps[half:], tail)
    late = {f"step {s:g}": v / start - 1 for s, v in zip(steps[half:], tail, strict=True)}
    span = f"steps {steps[half]:g}–{steps[-1]:g}"
    return [
        claim_row(
            "6a",
            "fig8",
            "distance to the other twin's endpoint decreases",
            f"distance / distance at the branch − 1, {span}",
            "late point",
            late,
            "<",
            -drop_min,
            f"start {start:.3f}, last-half mean {tail.mean():.3f}",
        ),
        claim_row(
            "6b",
            "fig8",
            "… and saturates",
            f"fitted change over {span} / drop from the start",
            "late point",
            {span: change.effect / drop},
            "≈",
            change_max,
            f"least-squares change {change.effect:+.4f} [{change.low:+.4f}, {change.high:+.4f}]"
            f" over the last half; drop {drop:.4f}",
            interval=tuple(sorted((change.low / drop, change.high / drop))),  # drop < 0 flips it
        ),
    ]


def lemma1(df: pd.DataFrame, slope_tol: float, rel_tol: float) -> list[dict]:
    """Claim 7: stationary radius ∝ √lr (slope ≈ 0.5); closed form matches Monte Carlo."""
    slope = df[(df["statistic"] == "loglog_slope") & (df["source"] == "monte_carlo")]["value"]
    radius = df[df["statistic"] == "mean_sq_radius"].pivot_table(
        index="lr", columns="source", values="value"
    )
    rel = (radius["monte_carlo"] / radius["theory"] - 1).abs().dropna()  # theory grid is finer
    return [
        claim_row(
            "7a",
            "lemma1",
            "log-log slope of the stationary radius vs lr is 1/2",
            "Monte Carlo slope − 0.5",
            "fit",
            {"small lrs": float(slope.iloc[0]) - 0.5},
            "≈",
            slope_tol,
            "one Monte Carlo fit (its chains are the replicates; no interval)",
        ),
        claim_row(
            "7b",
            "lemma1",
            "closed-form E‖w‖² matches Monte Carlo",
            "max over lr of |Monte Carlo / closed form − 1|",
            "fit",
            {"all lrs": float(rel.max())},
            "<",
            rel_tol,
            ", ".join(f"lr {lr:g}: {r:.2%}" for lr, r in rel.items()),
        ),
    ]


def fast_slow(df: pd.DataFrame) -> dict:
    """Claim 8: large lr + EMA ends lower than large lr and than small lr (same budget)."""
    last = df[
        (df["step"] == df["step"].max())
        & (df["direction"] == "total")
        & (df["statistic"] == "mean")
        & (df["source"] == "monte_carlo")
    ]
    lrs = sorted(last["lr"].unique())
    small, large = lrs[0], lrs[-1]
    pick = {(m, lr): v for m, lr, v in zip(last["method"], last["lr"], last["value"], strict=True)}
    ema, big, little = pick[("ema", large)], pick[("sgd", large)], pick[("sgd", small)]
    return claim_row(
        "8",
        "fig9",
        "large lr + EMA reaches a lower loss than large or small lr",
        "log10(EMA loss / min(large-lr, small-lr loss)), last step",
        "simulation",
        {"mean of chains": float(np.log10(ema / min(big, little)))},
        "<",
        0.0,
        f"lr {large:g}+EMA {ema:.3g}, lr {large:g} {big:.3g}, lr {small:g} {little:.3g}",
    )


def _setting(settings: Mapping[str, Any], key: str) -> float:
    # ``settings`` is the validated ``claims`` section, which holds every key (schema defaults)
    return float(settings[key])


def scorecard(
    inputs: Inputs,
    settings: Mapping[str, Any],
    fig10: Mapping[str, str] | None = None,
    probe_claims: Callable[[Inputs, Mapping[str, Any]], list[dict]] | None = None,
) -> pd.DataFrame:
    """All claims, tidy (module docstring). ``inputs`` maps a metrics kind to its Parquet files
    (absent: not built); ``fig10`` maps each other experiment of fig10 to its summary."""
    split = settings["split"]
    rows: list[dict] = []
    if probe_claims is not None:
        rows += probe_claims(inputs, settings)
    else:
        for claim, fig, text in (("1", "fig2", "one step"), ("2", "fig3", "no barrier"),
                                 ("5", "fig7", "aligned gradients")):  # fmt: skip
            rows.append(not_built(claim, fig, text, "probes not in the DAG"))
    summary = load_tables(inputs.get("sidetrip_summary"))
    if summary is None:
        rows.append(not_built("3", "fig5", "average ≈ schedule", "no side-trip summary"))
        rows.append(not_built("4", "fig1", "two-point beats constant lr", "no summary"))
    else:
        fraction = _setting(settings, "equivalence_fraction")
        rows += averaging_matches_schedule(summary, fraction, split)
        rows.append(two_point_beats_baseline(summary, split, str(settings.get("experiment"))))
    for letter, (exp, path) in zip("bcdefg", (fig10 or {}).items(), strict=False):
        other = load_tables([path])
        if other is not None:
            row = two_point_beats_baseline(other, split, exp)
            rows.append({**row, "claim": f"4{letter}", "figure": "fig10"})
    twins = load_tables(inputs.get("twin_distances"))
    drop, change = _setting(settings, "drop_min"), _setting(settings, "change_max")
    rows += (
        twins_distance(twins, drop, change)
        if twins is not None
        else [not_built("6", "fig8", "twin distance decreases and saturates", "no twins")]
    )
    lem = load_tables(inputs.get("lemma1"))
    slope_tol, rel_tol = _setting(settings, "slope_tol"), _setting(settings, "rel_tol")
    rows += (
        lemma1(lem, slope_tol, rel_tol)
        if lem is not None
        else [not_built("7", "lemma1", "Lemma 1", "no simulation")]
    )
    fs = load_tables(inputs.get("fast_slow"))
    rows.append(
        fast_slow(fs) if fs is not None else not_built("8", "fig9", "EMA wins", "no simulation")
    )
    rows.sort(key=lambda r: (int(re.match(r"\d+", r["claim"]).group()), r["claim"]))
    return tidy(rows)


def tidy(rows: list[dict]) -> pd.DataFrame:
    """One row per claim and replicate (a claim without replicates keeps one row)."""
    out = []
    for row in rows:
        reps = row["replicates"] or {"": np.nan}
        fields = {k: row[k] for k in CLAIM_FIELDS}
        out += [{**fields, "replicate": r, "value": v} for r, v in reps.items()]
    df = pd.DataFrame(out, columns=CLAIM_COLUMNS)
    return df.astype({"n": "int64", "value": "float64", "effect": "float64"})


def claims_table(card: pd.DataFrame) -> pd.DataFrame:
    """One row per claim (the tidy scorecard's claim columns)."""
    return card.drop_duplicates("claim")[CLAIM_FIELDS].reset_index(drop=True)


def write_markdown(card: pd.DataFrame, path: str | Path, provenance: Mapping[str, Any]) -> None:
    """The scorecard as a readable table, with its provenance in a sidecar."""
    from lrtraj import atomic
    from lrtraj.provenance import write_sidecar

    table = claims_table(card)
    counts = table["verdict"].value_counts().to_dict()
    head = (
        "# Reproduction scorecard\n\nEach claim of the paper (docs/theory.md §3; the method: "
        "docs/claims.md) as the mean over its replicates with a 95 % t-interval, judged "
        f"against a margin: {counts.get('pass', 0)} pass, {counts.get('fail', 0)} fail, "
        f"{counts.get('inconclusive', 0)} inconclusive, {counts.get('not built', 0)} not "
        f"built. Per-replicate values: {Path(path).with_suffix('.parquet').as_posix()}.\n\n"
    )
    shown = table.copy()
    shown["interval"] = [
        f"[{lo:.4g}, {hi:.4g}]" for lo, hi in zip(table["low"], table["high"], strict=True)
    ]
    shown["effect"] = table["effect"].map(lambda v: f"{v:.4g}")
    shown["rule"] = [f"{r} {m:.4g}" for r, m in zip(table["rule"], table["margin"], strict=True)]
    cols = ["claim", "figure", "statement", "statistic", "n", "effect", "interval", "rule"]
    shown = shown[cols + ["verdict", "detail"]].replace({r"\|": "∣"}, regex=True)
    atomic.write_text(path, head + shown.to_markdown(index=False) + "\n")
    write_sidecar(path, dict(provenance))
