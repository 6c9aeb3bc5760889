"""Exact theory of SGD on the quadratic model (docs/theory.md §1): what the Monte Carlo is
checked against.

Model (per eigen-direction ``k`` of a diagonal ``A``, or in matrix form)::

    w_{t+1} = (1 - lr_t gbar_t a) w_t + lr_t xi_t,   E xi = 0, Var xi = s, E gbar = 1,
    Var gbar = v (per-sample curvature noise; v = 0 in the additive form),

with ``xi`` and ``gbar`` independent of ``w_t`` and ``E[gbar xi] = 0``. Then, exactly and for any
schedule ``lr_t``:

* mean drift ``E w_{t+1} = rho_t E w_t`` with ``rho_t = 1 - lr_t a``;
* raw second moment ``q_{t+1} = (rho_t^2 + lr_t^2 a^2 v) q_t + lr_t^2 s``;
* lagged moments ``E[w_j w_l] = (prod_{i=j}^{l-1} rho_i) q_j`` (``l > j``), hence the second
  moment of any average ``sum kappa_t w_t`` (``averaged_second_moment``);
* stationary variance ``C = lr s / (a (2 - lr a (1 + v)))`` (Lemma 1 for ``v = 0``), matrix form
  ``C = R C R^T + lr^2 v A C A + lr^2 S`` (a discrete Lyapunov equation for ``v = 0``);
* at stationarity ``Var(sum kappa_j w_{T-j}) = C sum_{j,l} kappa_j kappa_l rho^{|j-l|}``.

The expected excess loss is ``E L = 1/2 sum_k a_k q_k`` (the constant ``1/2 E l_x(0)`` part of
the per-sample loss is dropped; the paper's numbers are excess losses).

Per-sample model -> these coefficients (``simulate.PerSample``): a batch of ``B`` samples with
``A_x = gamma_x A`` (``E gamma = 1``, ``Var gamma = cv^2``) and ``w_x ~ N(0, w_cov)`` independent
of ``gamma`` gives ``w' = (I - lr gbar A) w + lr A m`` with ``gbar = mean gamma_x`` and
``m = mean gamma_x w_x``. Since ``E[m] = 0`` and ``E[gbar m] = E[gamma^2] E[w_x] / B = 0``, the
cross term vanishes and, per eigen-direction of a diagonal model,
``q_{t+1} = ((1 - lr a)^2 + lr^2 a^2 cv^2/B) q_t + lr^2 a^2 (1 + cv^2) w_var / B``, i.e.
``s = a^2 (1 + cv^2) w_var / B`` and ``v = cv^2 / B``; the mean drifts as
``E w_{t+1} = (1 - lr a) E w_t``. With ``w_x ~ N(0, A^-1)`` (``Sigma = A``) and ``cv = 0``,
``s = a / B``: the per-sample model *is* the additive-noise model, exactly, and the recursion
(with ``q_0 = w_0^2``, the mean-drift part ``E w_t^2 = (E w_t)^2 + Var w_t``) gives the Fig. 9
numbers at every step, not only asymptotically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lrtraj.quadratic.simulate import lr_matrix


# --------------------------------------------------------------------------- stationarity
def stationary_variance(
    a: np.ndarray | float, s: np.ndarray | float, lr: float, curvature_var: float = 0.0
) -> np.ndarray:
    """Closed form per direction: ``C = lr s / (a (2 - lr a (1 + v)))``
    (docs/theory.md §1.2, Lemma 1)."""
    a = np.asarray(a, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    denom = a * (2.0 - lr * a * (1.0 + curvature_var))
    if np.any(denom <= 0):
        raise ValueError("no stationary distribution: need 0 < lr a (1 + v) < 2 in every direction")
    return lr * s / denom


def stationary_cov(
    A: np.ndarray, S: np.ndarray, lr: float, curvature_var: float = 0.0
) -> np.ndarray:
    """Stationary covariance for a general (symmetric) ``A``: solves
    ``C = R C R^T + lr^2 v A C A + lr^2 S``, ``R = I - lr A`` (discrete Lyapunov when v = 0)."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    S = np.atleast_2d(np.asarray(S, dtype=np.float64))
    R = np.eye(A.shape[0]) - lr * A
    if np.max(np.abs(np.linalg.eigvals(R))) >= 1.0:
        raise ValueError("no stationary distribution: spectral radius of I - lr A is >= 1")
    if curvature_var == 0.0:
        from scipy.linalg import solve_discrete_lyapunov  # lazy: config checks import this module

        C = solve_discrete_lyapunov(R, lr**2 * S)
    else:  # vectorised: vec(R C R^T) = (R kron R) vec C
        d = A.shape[0]
        op = np.eye(d * d) - np.kron(R, R) - lr**2 * curvature_var * np.kron(A, A)
        C = np.linalg.solve(op, lr**2 * S.reshape(-1)).reshape(d, d)
    return 0.5 * (C + C.T)


def stationary_loss(a: np.ndarray, s: np.ndarray, lr: float, curvature_var: float = 0.0) -> float:
    """``E L = 1/2 sum_k a_k C_k`` at stationarity (``sum lr s / (2 (2 - lr a))`` for v = 0)."""
    a = np.asarray(a, dtype=np.float64)
    return float(0.5 * np.sum(a * stationary_variance(a, s, lr, curvature_var)))


# --------------------------------------------------------------------------- averaging
def two_point_factor(rho: np.ndarray | float, k: int) -> np.ndarray:
    """``Var((w_{T-k} + w_T)/2) / C = (1 + rho^k) / 2``."""
    return (1.0 + np.asarray(rho, dtype=np.float64) ** k) / 2.0


def n_point_factor(rho: np.ndarray | float, n: int, k: int) -> np.ndarray:
    """``n`` points ``k`` apart, ``r = rho^k``: ``[n + 2 sum_{d=1}^{n-1} (n-d) r^d] / n^2``."""
    r = np.asarray(rho, dtype=np.float64) ** k
    lags = np.arange(1, n)
    terms = (n - lags) * np.power.outer(r, lags) if n > 1 else np.zeros(np.shape(r) + (0,))
    return (n + 2.0 * terms.sum(axis=-1)) / n**2


def ema_factor(rho: np.ndarray | float, beta: float) -> np.ndarray:
    """Infinite EMA: ``(1 - beta)/(1 + beta) * (1 + beta rho)/(1 - beta rho)``."""
    rho = np.asarray(rho, dtype=np.float64)
    return (1.0 - beta) / (1.0 + beta) * (1.0 + beta * rho) / (1.0 - beta * rho)


def kernel_factor(kernel: np.ndarray, rho: np.ndarray | float) -> np.ndarray:
    """``sum_{j,l} kappa_j kappa_l rho^{|j-l|}`` for any kernel, in O(len(kernel)) per ``rho``.

    Why not the double sum: an EMA kernel has 10^4 weights. With
    ``g_j = sum_{l>j} kappa_l rho^{l-j} = rho (kappa_{j+1} + g_{j+1})`` (a first-order filter run
    backwards) the sum is ``sum kappa_j^2 + 2 sum kappa_j g_j``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    rho_arr = np.asarray(rho, dtype=np.float64)
    out = np.empty(rho_arr.shape)
    from scipy.signal import lfilter  # lazy: scipy.signal alone costs ~1 s to import

    rev = kernel[::-1]
    for idx, r in np.ndenumerate(rho_arr):
        g_rev = lfilter([0.0, r], [1.0, -r], rev)  # g_rev[n] = g_{N-1-n}
        out[idx] = np.dot(kernel, kernel) + 2.0 * np.dot(rev, g_rev)
    return out


def effective_lr_ratio(
    lr: float, a: np.ndarray | float, f: np.ndarray | float, curvature_var: float = 0.0
) -> np.ndarray:
    """Exact ``lr'/lr`` whose stationary variance equals ``f C(lr)``:
    ``f / (1 - lr a (1 + v)(1 - f)/2)``; ``-> f`` (``1/2`` two-point, ``1/n`` n-point) as
    ``lr a -> 0``."""
    a = np.asarray(a, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    return f / (1.0 - lr * a * (1.0 + curvature_var) * (1.0 - f) / 2.0)


# --------------------------------------------------------------------------- moment recursions
@dataclass
class Moments:
    """Exact first and raw second moments per step ``t = 0..T`` and direction.

    ``mean_w``, ``q_w``: ``(runs, T+1, d)``; ``mean_v``, ``q_v``: ``(runs, n_ema, T+1, d)``.
    """

    mean_w: np.ndarray
    q_w: np.ndarray
    mean_v: np.ndarray
    q_v: np.ndarray

    @property
    def var_w(self) -> np.ndarray:
        return self.q_w - np.square(self.mean_w)


def moment_recursion(
    a: Sequence[float] | np.ndarray,
    s: Sequence[float] | np.ndarray,
    lr: float | Sequence[float] | np.ndarray,
    steps: int,
    w0_mean: Sequence[float] | np.ndarray,
    w0_var: Sequence[float] | np.ndarray | float = 0.0,
    *,
    curvature_var: float = 0.0,
    ema_betas: Sequence[float] = (),
    ema_start: int = 0,
) -> Moments:
    """Exact moments of the iterate and of EMAs for a diagonal model, under any schedule.

    ``lr`` as in ``simulate.lr_matrix`` (one row per run). For the EMA
    ``v' = beta v + (1 - beta) w'`` the joint raw moments follow
    ``E[w' v] = rho E[w v]``, ``E[w' v'] = beta rho E[w v] + (1 - beta) q_w'``,
    ``q_v' = beta^2 q_v + 2 beta (1 - beta) rho E[w v] + (1 - beta)^2 q_w'``.
    """
    a = np.asarray(a, dtype=np.float64)
    s = np.broadcast_to(np.asarray(s, dtype=np.float64), a.shape)
    lrs = lr_matrix(lr, steps)
    runs, d = lrs.shape[0], a.size
    betas = np.asarray(list(ema_betas), dtype=np.float64)[:, None]
    n_ema = betas.shape[0]
    m0 = np.broadcast_to(np.asarray(w0_mean, dtype=np.float64), (d,))
    q0 = np.square(m0) + np.broadcast_to(np.asarray(w0_var, dtype=np.float64), (d,))

    mean_w = np.empty((runs, steps + 1, d))
    q_w = np.empty((runs, steps + 1, d))
    mean_v = np.empty((runs, n_ema, steps + 1, d))
    q_v = np.empty((runs, n_ema, steps + 1, d))
    mean_w[:, 0], q_w[:, 0] = m0, q0
    mean_v[:, :, 0], q_v[:, :, 0] = m0, q0
    q_wv = np.broadcast_to(q0, (runs, n_ema, d)).copy()

    for t in range(steps):
        lr_t = lrs[:, t][:, None]
        rho = 1.0 - lr_t * a  # (runs, d)
        rho2 = np.square(rho) + np.square(lr_t * a) * curvature_var
        mean_w[:, t + 1] = rho * mean_w[:, t]
        q_w[:, t + 1] = rho2 * q_w[:, t] + np.square(lr_t) * s
        if n_ema:
            if t + 1 > ema_start:
                mw, qw = mean_w[:, None, t + 1], q_w[:, None, t + 1]
                cross = rho[:, None] * q_wv  # E[w_{t+1} v_t]
                mean_v[:, :, t + 1] = betas * mean_v[:, :, t] + (1 - betas) * mw
                q_v[:, :, t + 1] = (
                    np.square(betas) * q_v[:, :, t]
                    + 2 * betas * (1 - betas) * cross
                    + np.square(1 - betas) * qw
                )
                q_wv = betas * cross + (1 - betas) * qw
            else:
                mean_v[:, :, t + 1] = mean_w[:, None, t + 1]
                q_v[:, :, t + 1] = q_w[:, None, t + 1]
                q_wv = np.broadcast_to(q_w[:, None, t + 1], q_wv.shape).copy()
    return Moments(mean_w=mean_w, q_w=q_w, mean_v=mean_v, q_v=q_v)


def moment_recursion_matrix(
    A: np.ndarray,
    S: np.ndarray,
    lr: float | Sequence[float] | np.ndarray,
    steps: int,
    w0_mean: np.ndarray,
    w0_cov: np.ndarray | None = None,
    curvature_var: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """General ``A``: mean ``(T+1, d)`` and raw second-moment matrices ``(T+1, d, d)`` of one
    schedule, ``Q' = R Q R^T + lr^2 v A Q A + lr^2 S``."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    S = np.atleast_2d(np.asarray(S, dtype=np.float64))
    lrs = lr_matrix(lr, steps)
    if lrs.shape[0] != 1:
        raise ValueError("moment_recursion_matrix takes one schedule")
    d = A.shape[0]
    m = np.asarray(w0_mean, dtype=np.float64).reshape(d)
    Q = np.outer(m, m) + (np.zeros((d, d)) if w0_cov is None else np.asarray(w0_cov, float))
    means, Qs = [m], [Q]
    eye = np.eye(d)
    for lr_t in lrs[0]:
        R = eye - lr_t * A
        m = R @ m
        Q = R @ Q @ R.T + lr_t**2 * (curvature_var * A @ Q @ A + S)
        means.append(m)
        Qs.append(Q)
    return np.stack(means), np.stack(Qs)


def averaged_second_moment(kernel: np.ndarray, q: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Exact ``E[(sum_t kappa_t w_t)^2]`` per direction under any schedule (not only at
    stationarity): ``sum_j kappa_j^2 q_j + 2 sum_j kappa_j q_j g_j`` with
    ``g_j = rho_j (kappa_{j+1} + g_{j+1})``.

    ``kernel``: ``(T+1,)``; ``q``: raw second moments ``(T+1, d)``; ``rho``: ``1 - lr_t a``,
    ``(T, d)``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    steps = kernel.size - 1
    if q.shape[0] != steps + 1 or rho.shape[0] != steps:
        raise ValueError("kernel, q and rho disagree on the number of steps")
    first = int(np.flatnonzero(kernel)[0])
    g = np.zeros(q.shape[1:])
    total = kernel[steps] ** 2 * q[steps]
    for j in range(steps - 1, first - 1, -1):
        g = rho[j] * (kernel[j + 1] + g)
        if kernel[j] != 0.0:
            total = total + kernel[j] * q[j] * (kernel[j] + 2.0 * g)
    return total


def expected_loss(a: np.ndarray, q: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """``E L = 1/2 sum_k a_k q_k`` over the last axis, or per group (``(d, g)`` 0/1 matrix)."""
    weighted = 0.5 * np.asarray(q) * np.asarray(a)
    return weighted.sum(axis=-1) if groups is None else weighted @ groups


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (Lemma 1: radius ~ lr^0.5)."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def first_step_below(
    values: np.ndarray, threshold: float, steps: np.ndarray | None = None
) -> float:
    """First step at which ``values`` drops below ``threshold`` (NaN if never)."""
    below = np.flatnonzero(np.asarray(values) < threshold)
    if below.size == 0:
        return float("nan")
    return float(below[0] if steps is None else np.asarray(steps)[below[0]])
