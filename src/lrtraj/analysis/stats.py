"""The scorecard's statistics (docs/claims.md, "Method"): a 95 % t-interval of a mean over
independent replicates (seeds, or the curves a claim names), and the three-way verdict of a
one-sided or an equivalence rule against a margin.

A verdict is "pass" when the whole interval satisfies the rule, "fail" when the whole interval
violates it, and "inconclusive" when it straddles the margin; a non-finite replicate (a diverged
seed) is a "fail" that names the replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` replicates and its two-sided t-interval at ``level`` (NaN bounds if n < 2)."""

    effect: float
    low: float
    high: float
    n: int
    level: float = LEVEL


def t_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Student-t interval of the mean of ``values`` (replicates assumed independent)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0 or not np.all(np.isfinite(x)):
        return Interval(np.nan, np.nan, np.nan, n, level)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, np.nan, np.nan, n, level)
    half = _t(level, n - 1) * float(x.std(ddof=1)) / np.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, level)


def nonfinite(values: Sequence[float], labels: Sequence[object]) -> list[str]:
    """The labels of the replicates whose value is NaN or infinite."""
    return [str(lab) for v, lab in zip(values, labels, strict=True) if not np.isfinite(v)]


def verdict(ci: Interval, rule: str, margin: float) -> str:
    """``rule`` is "<" (effect below ``margin``), ">" (above) or "≈" (|effect| < ``margin``)."""
    if not np.isfinite(ci.effect):
        return "fail"
    low, high = (ci.low, ci.high) if ci.n >= 2 else (ci.effect, ci.effect)
    if rule == "<":
        return "pass" if high < margin else "fail" if low >= margin else "inconclusive"
    if rule == ">":
        return "pass" if low > margin else "fail" if high <= margin else "inconclusive"
    if rule == "≈":
        if not np.isfinite(margin) or margin <= 0:
            return "fail"
        if -margin < low and high < margin:
            return "pass"
        return "fail" if low >= margin or high <= -margin else "inconclusive"
    raise ValueError(f"unknown rule {rule!r}")


def ols_change(x: Sequence[float], y: Sequence[float], level: float = LEVEL) -> Interval:
    """Least-squares change of ``y`` over the span of ``x`` (slope × span), with the slope's
    t-interval (n − 2 degrees of freedom) scaled the same way."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 3 or not np.all(np.isfinite(y)):
        return Interval(np.nan, np.nan, np.nan, n, level)
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - slope * xc
    se = float(np.sqrt(resid @ resid / (n - 2) / (xc @ xc)))
    span = float(x.max() - x.min())
    half = float(_t(level, n - 2)) * se * span
    return Interval(slope * span, slope * span - half, slope * span + half, n, level)


def _t(level: float, df: int) -> float:
    from scipy import stats  # lazy: scipy.stats costs ~0.5 s to import

    return float(stats.t.ppf(0.5 + level / 2, df))
