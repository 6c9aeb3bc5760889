"""The quadratic-model experiments behind fig4, fig9/fig11, Lemma 1 and Appendix A.

Each ``run_*`` function simulates (``simulate``), computes the exact theory (``theory``) for the
same parameters and returns one tidy DataFrame in the schema of ``lrtraj.quadratic``
(``QUADRATIC_COLUMNS``); figures are drawn from that table only.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.metrics import conform
from lrtraj.quadratic import theory
from lrtraj.quadratic.simulate import (
    AdditiveNoise,
    PerSample,
    rotation_2d,
    sample_gaussian,
    simulate,
)
from lrtraj.schedules import ema_kernel, swa_kernel, two_point_kernel

log = logging.getLogger(__name__)

MC = "monte_carlo"
TH = "theory"

QUADRATIC_COLUMNS: dict[str, str] = {
    "experiment": "string",
    "method": "string",
    "param_name": "string",
    "param": "float64",
    "lr": "float64",
    "direction": "string",
    "curvature": "float64",
    "chain": "int64",
    "step": "int64",
    "statistic": "string",
    "source": "string",
    "value": "float64",
}
_DEFAULTS: dict[str, Any] = {
    "method": "sgd",
    "param_name": "",
    "param": np.nan,
    "lr": np.nan,
    "direction": "all",
    "curvature": np.nan,
    "chain": -1,
    "step": -1,
}


def frame(experiment: str, **columns: Any) -> pd.DataFrame:
    """Rows of the quadratic schema (not yet type-conformed: ``_concat`` does that once);
    scalars broadcast against the array-valued columns."""
    cols = {**_DEFAULTS, **columns, "experiment": experiment}
    n = max((np.size(v) for v in cols.values() if not np.isscalar(v)), default=1)
    data = {
        k: (np.full(n, v) if np.isscalar(v) else np.asarray(v).ravel()) for k, v in cols.items()
    }
    return pd.DataFrame(data, columns=list(QUADRATIC_COLUMNS))


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    return conform(pd.concat(frames, ignore_index=True), QUADRATIC_COLUMNS)


def _chain_stats(per_chain: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over the last axis (chains): mean, its standard error, 10 %/90 % quantiles."""
    n = per_chain.shape[-1]
    q10, q90 = np.quantile(per_chain, [0.1, 0.9], axis=-1)
    return {
        "mean": per_chain.mean(axis=-1),
        "sem": per_chain.std(axis=-1, ddof=1) / math.sqrt(n),
        "q10": q10,
        "q90": q90,
    }


# --------------------------------------------------------------------------- fig9 / fig11
def run_fast_slow(
    *,
    seed: int,
    chains: int,
    dim_fast: int,
    dim_slow: int,
    a_fast: float,
    a_slow: float,
    batch_size: int,
    lrs: Sequence[float],
    ema_beta: float,
    steps: int,
    record_every: int,
    threshold: float,
    curvature_cv: float = 0.0,
) -> pd.DataFrame:
    """Section 5.1: fast (``a_fast``) and slow (``a_slow``) directions, ``w_x ~ N(0, A^-1)``
    (so ``Sigma = A``), ``w_0,k = a_k^-1/2``, constant lr per run, EMA on top of each run.

    Rows: loss per direction group (``fast``, ``slow``, ``total``) at every ``record_every``
    steps and at 200 log-spaced steps, Monte Carlo (mean, sem, q10, q90 over chains) and exact
    theory (mean); per run and method the first step below ``threshold`` (theory per step, MC
    on the per-step chain mean) and the stationary loss.
    """
    a = np.r_[np.full(dim_fast, a_fast), np.full(dim_slow, a_slow)]
    model = PerSample.diagonal(a, 1.0 / a, batch_size, curvature_cv)
    groups = np.zeros((a.size, 3))
    groups[:dim_fast, 0] = 1.0
    groups[dim_fast:, 1] = 1.0
    groups[:, 2] = 1.0
    names = ["fast", "slow", "total"]
    group_a = [a_fast, a_slow, np.nan]
    weights = 0.5 * a[:, None] * groups  # (d, 3): loss = w^2 @ weights
    w0 = a**-0.5
    # linear grid for the long-run view plus a log grid that resolves the fast transient
    log_grid = np.geomspace(1, steps, 200).astype(np.int64)
    record = np.unique(np.r_[np.arange(0, steps + 1, record_every), log_grid, steps])
    lrs = [float(x) for x in lrs]

    sim = simulate(
        model,
        lrs,
        w0,
        steps,
        chains,
        seed,
        ema_betas=[ema_beta],
        record_steps=record,
        observe=lambda s: np.square(s) @ weights,  # (runs, tracks, chains, 3)
        per_step=lambda s: np.einsum("rtcd,rtcd->rtd", s, s) @ weights / s.shape[2],
    )
    assert sim.observed is not None and sim.per_step is not None
    s_diag = np.diag(model.noise_cov())
    mom = theory.moment_recursion(
        a, s_diag, lrs, steps, w0, curvature_var=model.curvature_var(), ema_betas=[ema_beta]
    )
    th_loss = {
        "sgd": theory.expected_loss(a, mom.q_w, groups),  # (runs, T+1, 3)
        "ema": theory.expected_loss(a, mom.q_v[:, 0], groups),
    }
    mc_per_chain = np.moveaxis(sim.observed, -2, -1)  # (n_rec, runs, tracks, 3, chains)
    mc_stats = _chain_stats(mc_per_chain)

    frames = []
    for r, lr in enumerate(lrs):
        for tr, method in enumerate(["sgd", "ema"]):
            param = {
                "lr": lr,
                "method": method,
                "param_name": "ema_beta" if tr else "",
                "param": ema_beta if tr else np.nan,
            }
            for g, name in enumerate(names):
                common = {**param, "direction": name, "curvature": group_a[g]}
                for stat, arr in mc_stats.items():
                    frames.append(
                        frame(
                            "fast_slow",
                            **common,
                            step=record,
                            statistic=stat,
                            source=MC,
                            value=arr[:, r, tr, g],
                        )
                    )
                frames.append(
                    frame(
                        "fast_slow",
                        **common,
                        step=record,
                        statistic="mean",
                        source=TH,
                        value=th_loss[method][r, record, g],
                    )
                )
            th_total = th_loss[method][r, :, 2]
            mc_total = sim.per_step[:, r, tr, 2]
            for src, series in ((TH, th_total), (MC, mc_total)):
                frames.append(
                    frame(
                        "fast_slow",
                        **param,
                        direction="total",
                        statistic="first_step_below",
                        source=src,
                        value=theory.first_step_below(series, threshold),
                    )
                )
            frames.append(
                frame(
                    "fast_slow",
                    **param,
                    direction="total",
                    statistic="threshold",
                    source=TH,
                    value=threshold,
                )
            )
        rho = 1.0 - lr * a
        c = theory.stationary_variance(a, s_diag, lr, model.curvature_var())
        for g, name in enumerate(names):
            sgd_loss = float(np.sum(0.5 * a * c * groups[:, g]))
            ema_loss = float(np.sum(0.5 * a * c * theory.ema_factor(rho, ema_beta) * groups[:, g]))
            frames.append(
                frame(
                    "fast_slow",
                    lr=lr,
                    direction=name,
                    curvature=group_a[g],
                    statistic="stationary_loss",
                    source=TH,
                    value=sgd_loss,
                )
            )
            frames.append(
                frame(
                    "fast_slow",
                    lr=lr,
                    method="ema",
                    param_name="ema_beta",
                    param=ema_beta,
                    direction=name,
                    curvature=group_a[g],
                    statistic="stationary_loss",
                    source=TH,
                    value=ema_loss,
                )
            )
    frames.append(frame("fast_slow", statistic="chains", source=MC, value=chains))
    frames.append(frame("fast_slow", statistic="steps", source=MC, value=steps))
    return _concat(frames)


# --------------------------------------------------------------------------- fig4
def run_geometry(
    *,
    seed: int,
    chains: int,
    eigenvalues: Sequence[float],
    angle_deg: float,
    noise_var: float,
    lr: float,
    burn_in: int,
    steps: int,
    gap: int,
) -> pd.DataFrame:
    """2-D additive-noise model with a rotated ``A`` and isotropic noise ``S = noise_var I``, so
    the stationary cloud is an ellipse aligned with the loss contours (``C ~ lr/2 S A^-1``).

    Rows: chain 0's trajectory over the window (coordinates), theory/MC stationary covariance,
    the step decomposition (``E[w . dw]`` = drag, ``E|dw|^2``; their balance
    ``2 E[w . dw] + E|dw|^2 = 0`` is Lemma 1), RMS drag and drift, and the loss of the midpoint
    of two points ``gap`` steps apart relative to the loss of a single point.
    """
    rot = rotation_2d(angle_deg)
    A = rot @ np.diag(np.asarray(eigenvalues, float)) @ rot.T
    S = noise_var * np.eye(2)
    model = AdditiveNoise(A, S)
    total = burn_in + steps
    record = np.arange(burn_in, total + 1)
    sim = simulate(
        model, lr, np.zeros(2), total, chains, seed, record_steps=record, observe=lambda s: s[0, 0]
    )
    assert sim.observed is not None
    W = sim.observed  # (n_rec, chains, 2)

    C = theory.stationary_cov(A, S, lr)
    frames = [
        frame(
            "geometry",
            method="trajectory",
            lr=lr,
            chain=0,
            step=np.repeat(record, 2),
            direction=np.tile(["x0", "x1"], record.size),
            statistic="coordinate",
            source=MC,
            value=W[:, 0, :].ravel(),
        )
    ]
    # stationary covariance: per-chain time averages -> mean and sem over chains
    for i, j in ((0, 0), (0, 1), (1, 1)):
        per_chain = (W[:, :, i] * W[:, :, j]).mean(axis=0)
        stats = _chain_stats(per_chain)
        frames.append(frame("geometry", lr=lr, statistic=f"cov_{i}{j}", source=TH, value=C[i, j]))
        frames.append(
            frame("geometry", lr=lr, statistic=f"cov_{i}{j}", source=MC, value=stats["mean"])
        )
        frames.append(
            frame("geometry", lr=lr, statistic=f"cov_{i}{j}_sem", source=MC, value=stats["sem"])
        )
        frames.append(
            frame("geometry", lr=lr, statistic=f"hessian_{i}{j}", source=TH, value=A[i, j])
        )
    # one step: dw = w_{t+1} - w_t, split along u = w_t/|w_t| (drag) and orthogonal (drift)
    w, dw = W[:-1], np.diff(W, axis=0)
    radial = np.einsum("tcd,tcd->tc", dw, w) / np.linalg.norm(w, axis=-1)
    drift_sq = np.einsum("tcd,tcd->tc", dw, dw) - radial**2
    mc_steps = {
        "mean_w_dot_step": np.einsum("tcd,tcd->tc", dw, w),
        "mean_sq_step": np.einsum("tcd,tcd->tc", dw, dw),
        "mean_drag": -radial,
        "mean_sq_drag": radial**2,
        "mean_sq_drift": drift_sq,
    }
    for stat, vals in mc_steps.items():
        st = _chain_stats(vals.mean(axis=0))
        frames.append(frame("geometry", lr=lr, statistic=stat, source=MC, value=st["mean"]))
        frames.append(frame("geometry", lr=lr, statistic=f"{stat}_sem", source=MC, value=st["sem"]))
    frames.append(
        frame(
            "geometry", lr=lr, statistic="mean_w_dot_step", source=TH, value=-lr * np.trace(A @ C)
        )
    )
    frames.append(
        frame(
            "geometry",
            lr=lr,
            statistic="mean_sq_step",
            source=TH,
            value=lr**2 * (np.trace(A @ C @ A) + np.trace(S)),
        )
    )
    # midpoint of two points gap apart: Cov = (2C + R^g C + C R^g^T)/4
    Rg = np.linalg.matrix_power(np.eye(2) - lr * A, gap)
    C_mid = (2 * C + Rg @ C + C @ Rg.T) / 4
    frames.append(
        frame(
            "geometry",
            lr=lr,
            param_name="gap",
            param=gap,
            statistic="midpoint_loss_ratio",
            source=TH,
            value=np.trace(A @ C_mid) / np.trace(A @ C),
        )
    )
    mid = 0.5 * (W[gap:] + W[:-gap])
    loss = lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, A, x)  # noqa: E731
    ratio_per_chain = loss(mid).mean(axis=0) / loss(W).mean(axis=0)
    st = _chain_stats(ratio_per_chain)
    frames.append(
        frame(
            "geometry",
            lr=lr,
            param_name="gap",
            param=gap,
            statistic="midpoint_loss_ratio",
            source=MC,
            value=st["mean"],
        )
    )
    frames.append(
        frame(
            "geometry",
            lr=lr,
            param_name="gap",
            param=gap,
            statistic="midpoint_loss_ratio_sem",
            source=MC,
            value=st["sem"],
        )
    )
    frames.append(frame("geometry", statistic="chains", source=MC, value=chains))
    return _concat(frames)


# --------------------------------------------------------------------------- Lemma 1
def run_lemma1(
    *,
    seed: int,
    chains: int,
    dim: int,
    w_var: float,
    batch_size: int,
    lrs: Sequence[float],
    relax_times: float,
    thin: int,
    fit_max_lr: float,
    curvature_cv: float = 0.0,
) -> pd.DataFrame:
    """Stationary radius vs lr for ``A_x = I`` (times a Gamma curvature scale if
    ``curvature_cv > 0``), ``w_x ~ N(0, w_var I)``: ``E|w|^2 = d lr s / (2 - lr (1 + v))``.

    Chains start at 0, run ``relax_times / min(lr)`` steps of burn-in, then as many steps again
    in which ``|w|^2`` is averaged over time (every ``thin`` steps) within each chain; mean and
    sem are over chains. Slopes of ``log sqrt(E|w|^2)`` vs ``log lr`` are fitted on
    ``lr <= fit_max_lr`` (0.5 is the small-lr limit).
    """
    lrs_arr = np.sort(np.asarray(lrs, dtype=np.float64))
    model = PerSample(np.eye(dim), w_var * np.eye(dim), batch_size, curvature_cv)
    s = float(model.noise_cov()[0, 0])
    v = model.curvature_var()
    burn = math.ceil(relax_times / lrs_arr.min())
    total = 2 * burn
    record = np.arange(burn, total + 1, thin)
    sim = simulate(
        model,
        lrs_arr,
        np.zeros(dim),
        total,
        chains,
        seed,
        record_steps=record,
        observe=lambda st: np.einsum("rcd,rcd->rc", st[:, 0], st[:, 0]),
    )
    assert sim.observed is not None
    stats = _chain_stats(sim.observed.mean(axis=0))  # (runs,)
    theory_sq = np.array([dim * float(theory.stationary_variance(1.0, s, lr, v)) for lr in lrs_arr])
    grid = np.geomspace(lrs_arr.min(), lrs_arr.max(), 200)
    grid_sq = np.array([dim * float(theory.stationary_variance(1.0, s, lr, v)) for lr in grid])
    fit = lrs_arr <= fit_max_lr
    frames = [
        frame(
            "lemma1",
            param_name="lr",
            param=lrs_arr,
            lr=lrs_arr,
            statistic="mean_sq_radius",
            source=MC,
            value=stats["mean"],
        ),
        frame(
            "lemma1",
            param_name="lr",
            param=lrs_arr,
            lr=lrs_arr,
            statistic="mean_sq_radius_sem",
            source=MC,
            value=stats["sem"],
        ),
        frame(
            "lemma1",
            param_name="lr",
            param=lrs_arr,
            lr=lrs_arr,
            statistic="mean_sq_radius",
            source=TH,
            value=theory_sq,
        ),
        frame(
            "lemma1",
            method="closed_form_grid",
            param_name="lr",
            param=grid,
            lr=grid,
            statistic="mean_sq_radius",
            source=TH,
            value=grid_sq,
        ),
        frame(
            "lemma1",
            param_name="fit_max_lr",
            param=fit_max_lr,
            statistic="loglog_slope",
            source=MC,
            value=theory.loglog_slope(lrs_arr[fit], np.sqrt(stats["mean"][fit])),
        ),
        frame(
            "lemma1",
            param_name="fit_max_lr",
            param=fit_max_lr,
            statistic="loglog_slope",
            source=TH,
            value=theory.loglog_slope(lrs_arr[fit], np.sqrt(theory_sq[fit])),
        ),
        frame("lemma1", statistic="chains", source=MC, value=chains),
        frame("lemma1", statistic="steps", source=MC, value=total),
    ]
    return _concat(frames)


# --------------------------------------------------------------------------- Appendix A
def appendix_a_kernels(
    steps: int,
    two_point_k: Sequence[int],
    n_point_n: Sequence[int],
    n_point_spacing: int,
    ema_betas: Sequence[float],
) -> list[tuple[str, str, float, np.ndarray]]:
    """``(method, param_name, param, kernel)`` for every averaging variant of Appendix A."""
    out = [("two_point", "k", float(k), two_point_kernel(steps, int(k))) for k in two_point_k]
    out += [
        ("n_point", "n", float(n), swa_kernel(steps, int(n), n_point_spacing)) for n in n_point_n
    ]
    out += [("ema", "beta", float(b), ema_kernel(steps, float(b))) for b in ema_betas]
    return out


def _closed_form_factor(method: str, param: float, rho: np.ndarray, spacing: int) -> np.ndarray:
    if method == "two_point":
        return theory.two_point_factor(rho, int(param))
    if method == "n_point":
        return theory.n_point_factor(rho, int(param), spacing)
    return theory.ema_factor(rho, param)


def run_appendix_a(
    *,
    seed: int,
    chains: int,
    eigenvalues: Sequence[float],
    lr: float,
    batch_size: int,
    steps: int,
    two_point_k: Sequence[int],
    n_point_n: Sequence[int],
    n_point_spacing: int,
    ema_betas: Sequence[float],
    grid_points: int,
) -> pd.DataFrame:
    """Variance of averaged iterates at stationarity, closed form vs Monte Carlo, and the
    effective lr.

    Additive model ``A = diag(eigenvalues)``, ``S = A / B``; chains start from the exact
    stationary law ``N(0, C)``, so every average ending at ``steps`` is stationary. Per direction
    and kernel: MC ``Var v / C`` (mean, sem over chains), the closed form (infinite EMA), the
    exact finite-kernel value, and ``lr'/lr`` (exact; MC via the exact inversion of MC ``f``;
    the small-lr approximations ``1/2`` and ``1/n``). A curvature grid gives smooth theory lines.
    """
    a = np.asarray(eigenvalues, dtype=np.float64)
    model = AdditiveNoise.diagonal(a, a / batch_size)
    s = a / batch_size
    C = theory.stationary_variance(a, s, lr)
    rho = 1.0 - lr * a
    init_seed, sim_seed = np.random.SeedSequence(seed).generate_state(2)
    w0 = sample_gaussian(np.diag(C), (chains,), np.random.default_rng(init_seed))
    specs = appendix_a_kernels(steps, two_point_k, n_point_n, n_point_spacing, ema_betas)
    kernels = np.stack([k for *_, k in specs])
    sim = simulate(model, lr, w0, steps, chains, int(sim_seed), kernels=kernels)
    assert sim.kernel_averages is not None
    v2 = np.square(sim.kernel_averages[0])  # (K, chains, d)
    f_mc = v2.mean(axis=1) / C
    f_sem = v2.std(axis=1, ddof=1) / math.sqrt(chains) / C
    labels = [f"a={x:g}" for x in a]

    frames = []
    for i, (method, pname, param, kernel) in enumerate(specs):
        common = {
            "method": method,
            "param_name": pname,
            "param": param,
            "lr": lr,
            "direction": labels,
            "curvature": a,
        }
        closed = _closed_form_factor(method, param, rho, n_point_spacing)
        exact = theory.kernel_factor(kernel, rho)
        frames += [
            frame("appendix_a", **common, statistic="variance_ratio", source=MC, value=f_mc[i]),
            frame(
                "appendix_a", **common, statistic="variance_ratio_sem", source=MC, value=f_sem[i]
            ),
            frame("appendix_a", **common, statistic="variance_ratio", source=TH, value=closed),
            frame(
                "appendix_a", **common, statistic="variance_ratio_kernel", source=TH, value=exact
            ),
            frame(
                "appendix_a",
                **common,
                statistic="effective_lr_ratio",
                source=TH,
                value=theory.effective_lr_ratio(lr, a, closed),
            ),
            frame(
                "appendix_a",
                **common,
                statistic="effective_lr_ratio",
                source=MC,
                value=theory.effective_lr_ratio(lr, a, f_mc[i]),
            ),
        ]
        if method != "ema":
            small = 0.5 if method == "two_point" else 1.0 / param
            frames.append(
                frame(
                    "appendix_a",
                    **common,
                    statistic="effective_lr_ratio_small_lr",
                    source=TH,
                    value=np.full(a.size, small),
                )
            )
    frames.append(
        frame(
            "appendix_a",
            lr=lr,
            direction=labels,
            curvature=a,
            statistic="stationary_variance",
            source=TH,
            value=C,
        )
    )
    frames.append(
        frame(
            "appendix_a",
            lr=lr,
            direction=labels,
            curvature=a,
            statistic="stationary_variance",
            source=MC,
            value=np.square(sim.final[0, 0]).mean(axis=0),
        )
    )
    # smooth theory lines over lr*a in (0, 2) for the largest k, n and beta
    x = np.geomspace(1e-4, 1.9, grid_points)
    rho_grid = 1.0 - x
    for method, pname, values in (
        ("two_point", "k", two_point_k),
        ("n_point", "n", n_point_n),
        ("ema", "beta", ema_betas),
    ):
        if not len(values):
            continue
        param = float(max(values))
        f = _closed_form_factor(method, param, rho_grid, n_point_spacing)
        frames.append(
            frame(
                "appendix_a",
                method=method,
                param_name=pname,
                param=param,
                lr=lr,
                direction="grid",
                curvature=x / lr,
                statistic="effective_lr_ratio",
                source=TH,
                value=theory.effective_lr_ratio(lr, x / lr, f),
            )
        )
    frames.append(frame("appendix_a", statistic="chains", source=MC, value=chains))
    frames.append(
        frame(
            "appendix_a",
            param_name="n_point_spacing",
            param=n_point_spacing,
            statistic="n_point_spacing",
            source=TH,
            value=n_point_spacing,
        )
    )
    return _concat(frames)


# --------------------------------------------------------------------------- config glue
RUNNERS = {
    "geometry": run_geometry,
    "fast_slow": run_fast_slow,
    "lemma1": run_lemma1,
    "appendix_a": run_appendix_a,
}


def experiment_seed(seed: int, experiment: str) -> int:
    """One seed per experiment from the global one, so experiments never share random numbers
    and adding an experiment changes no other's."""
    return int(np.random.SeedSequence([seed, zlib.crc32(experiment.encode())]).generate_state(1)[0])


def run_experiment(
    experiment: str, seed: int, chains: int, settings: dict[str, Any]
) -> pd.DataFrame:
    """Run ``experiment`` with its config sub-mapping ``settings`` (``chains`` there overrides
    the global ``chains``)."""
    settings = dict(settings)
    chains = int(settings.pop("chains", chains))
    log.info("quadratic %s: %d chains, settings %s", experiment, chains, settings)
    return RUNNERS[experiment](seed=experiment_seed(seed, experiment), chains=chains, **settings)


def config_problems(cfg: dict[str, Any]) -> list[str]:
    """Relations between the ``quadratic`` keys that a JSON schema cannot express (stability,
    windows that must fit in the run); one message per problem, naming the key."""
    out: list[str] = []
    geo, fs, lem, app = (cfg[k] for k in ("geometry", "fast_slow", "lemma1", "appendix_a"))
    if max(geo["eigenvalues"]) * geo["lr"] >= 2:
        out.append("quadratic.geometry.lr: lr * max(eigenvalues) must be < 2 (stability)")
    if geo["gap"] >= geo["steps"]:
        out.append(f"quadratic.geometry.gap: {geo['gap']} must be < steps={geo['steps']}")
    cv2 = fs.get("curvature_cv", 0.0) ** 2 / fs["batch_size"]
    if max(fs["lrs"]) * max(fs["a_fast"], fs["a_slow"]) * (1 + cv2) >= 2:
        out.append("quadratic.fast_slow.lrs: lr * a * (1 + cv^2/B) must be < 2 (stability)")
    cv2 = lem.get("curvature_cv", 0.0) ** 2 / lem["batch_size"]
    if max(lem["lrs"]) * (1 + cv2) >= 2:
        out.append("quadratic.lemma1.lrs: lr * (1 + cv^2/B) must be < 2 (stability, A = I)")
    if sum(lr <= lem["fit_max_lr"] for lr in lem["lrs"]) < 2:
        out.append("quadratic.lemma1.fit_max_lr: the slope fit needs >= 2 lrs <= fit_max_lr")
    if max(app["eigenvalues"]) * app["lr"] >= 2:
        out.append("quadratic.appendix_a.lr: lr * max(eigenvalues) must be < 2 (stability)")
    if max(app["two_point_k"]) > app["steps"]:
        out.append(
            f"quadratic.appendix_a.two_point_k: {max(app['two_point_k'])} exceeds "
            f"steps={app['steps']}"
        )
    span = (max(app["n_point_n"]) - 1) * app["n_point_spacing"]
    if span > app["steps"]:
        out.append(
            f"quadratic.appendix_a.n_point_n: span (n-1)*n_point_spacing = {span} "
            f"exceeds steps={app['steps']}"
        )
    return out
