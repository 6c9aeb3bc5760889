"""Vectorised Monte Carlo of SGD on quadratic models: many independent chains at once.

Why: the quadratic model is where the paper's claims about the learning rate (Lemma 1, App. A,
Figs 4, 9, 11) can be checked against exact theory, and that needs thousands of chains times
tens of thousands of steps in seconds. Chains therefore live on an array axis; only the steps are
a Python loop (numpy float64, random numbers drawn in chunks of steps).

State layout: ``(runs, tracks, chains, d)``.

* ``runs``: several learning-rate schedules driven by the *same* noise draws (common random
  numbers: every run is exactly distributed, differences between runs have less noise, and the
  random numbers are drawn once).
* ``tracks``: track 0 is the SGD iterate ``w_t``; track ``1 + j`` is the EMA with ``ema_betas[j]``
  (``v_t = beta v_{t-1} + (1 - beta) w_t`` for ``t > ema_start``, ``v_t = w_t`` before).

Averages with any other kernel (two-point, n-point, SWA, or an EMA written as a kernel, from
``lrtraj.schedules``) are accumulated online at the final step: ``v = sum_t kappa_t w_t``.

Randomness: ``seed`` spawns independent streams for the noise and the per-sample curvatures, and
each stream fills its arrays sequentially, so results depend on the seed only (not on the chunk
size). Initial states are the caller's (see ``sample_gaussian``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Observer = Callable[[np.ndarray], np.ndarray]

_CHUNK_ELEMENTS = 1 << 22  # random numbers drawn per chunk (about 32 MiB of float64)


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    """``L`` with ``L L^T = cov`` for a symmetric positive semi-definite ``cov`` (eigh, no chol:
    a zero-variance direction is allowed)."""
    cov = np.asarray(cov, dtype=np.float64)
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * max(1.0, np.abs(cov).max())):
        raise ValueError("covariance must be symmetric")
    if _is_diagonal(cov):
        if np.diag(cov).min() < 0:
            raise ValueError("covariance has a negative variance")
        return np.diag(np.sqrt(np.diag(cov)))
    vals, vecs = np.linalg.eigh(cov)
    if vals.min() < -1e-12 * max(1.0, vals.max()):
        raise ValueError(f"covariance is not positive semi-definite (eigenvalue {vals.min():.3g})")
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def _is_diagonal(mat: np.ndarray) -> bool:
    return bool(np.count_nonzero(mat - np.diag(np.diag(mat))) == 0)


def _color(z: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``z @ root^T`` (standard normals -> ``N(0, root root^T)``); elementwise when diagonal."""
    if _is_diagonal(root):
        return z * np.diag(root)
    return z @ root.T


def rotation_2d(angle_deg: float) -> np.ndarray:
    """Rotation by ``angle_deg``: builds non-axis-aligned 2-D curvatures for the geometry figure."""
    t = np.deg2rad(angle_deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


@dataclass(frozen=True, eq=False)
class AdditiveNoise:
    """Appendix A form: ``w_{i+1} = (I - lr A) w_i + lr xi_i`` with ``xi_i ~ N(0, S)``.

    ``S`` is the covariance of the mini-batch gradient noise (``Sigma / B``).
    """

    A: np.ndarray
    S: np.ndarray
    _sqrt_s: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        A = np.atleast_2d(np.asarray(self.A, dtype=np.float64))
        S = np.atleast_2d(np.asarray(self.S, dtype=np.float64))
        if A.shape != S.shape or A.shape[0] != A.shape[1]:
            raise ValueError(f"A {A.shape} and S {S.shape} must be square and of the same shape")
        if not np.allclose(A, A.T):
            raise ValueError("A must be symmetric")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "_sqrt_s", _sqrt_psd(S))

    @classmethod
    def diagonal(cls, a: Sequence[float], s: Sequence[float]) -> AdditiveNoise:
        return cls(np.diag(np.asarray(a, float)), np.diag(np.asarray(s, float)))

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def noise_cov(self) -> np.ndarray:
        """Covariance ``S`` of ``xi`` (the gradient noise at the minimum)."""
        return self.S

    def curvature_var(self) -> float:
        """Variance of the batch's curvature scale (none in the additive form)."""
        return 0.0

    def draw(
        self, streams: _Streams, n_steps: int, chains: int
    ) -> tuple[np.ndarray | None, np.ndarray]:
        z = streams.noise.standard_normal((n_steps, chains, self.dim))
        return None, _color(z, self._sqrt_s)


@dataclass(frozen=True, eq=False)
class PerSample:
    """Per-sample quadratics ``l_x(w) = 1/2 (w - w_x)^T A_x (w - w_x)``, minimum of ``L`` at 0.

    ``w_x ~ N(0, w_cov)``; per-sample curvature ``A_x = gamma_x A`` with ``gamma_x`` Gamma
    distributed, mean 1 and standard deviation ``curvature_cv`` (0: every sample has ``A``),
    independent of ``w_x``. A batch of ``B`` samples gives the step
    ``w' = w - lr (gbar A w - A m)``, ``gbar = mean gamma_x``, ``m = mean gamma_x w_x``.

    ``sampling``: ``"batch_mean"`` draws ``(gbar, m)`` from their exact joint law (given the
    ``gamma_x``, ``m`` is Gaussian with covariance ``w_cov * sum gamma_x^2 / B^2``), costing ``d``
    normals per chain and step instead of ``B d``; ``"explicit"`` draws all ``B`` samples ``w_x``
    (the literal definition, used to check the shortcut).
    """

    A: np.ndarray
    w_cov: np.ndarray
    batch_size: int
    curvature_cv: float = 0.0
    sampling: str = "batch_mean"
    _sqrt_w: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        A = np.atleast_2d(np.asarray(self.A, dtype=np.float64))
        w_cov = np.atleast_2d(np.asarray(self.w_cov, dtype=np.float64))
        if A.shape != w_cov.shape or A.shape[0] != A.shape[1]:
            raise ValueError(f"A {A.shape} and w_cov {w_cov.shape} must be square, same shape")
        if not np.allclose(A, A.T):
            raise ValueError("A must be symmetric")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.curvature_cv < 0:
            raise ValueError(f"curvature_cv must be >= 0, got {self.curvature_cv}")
        if self.sampling not in ("batch_mean", "explicit"):
            raise ValueError(f"sampling must be 'batch_mean' or 'explicit', got {self.sampling!r}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "w_cov", w_cov)
        object.__setattr__(self, "_sqrt_w", _sqrt_psd(w_cov))

    @classmethod
    def diagonal(
        cls,
        a: Sequence[float],
        w_var: Sequence[float],
        batch_size: int,
        curvature_cv: float = 0.0,
        sampling: str = "batch_mean",
    ) -> PerSample:
        return cls(
            np.diag(np.asarray(a, float)),
            np.diag(np.asarray(w_var, float)),
            batch_size,
            curvature_cv,
            sampling,
        )

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def noise_cov(self) -> np.ndarray:
        """``S = Cov(A m) = E[gamma^2] A w_cov A / B`` (``Sigma / B`` with ``Sigma = A w_cov A``
        when every sample has curvature ``A``)."""
        return (1.0 + self.curvature_cv**2) * self.A @ self.w_cov @ self.A / self.batch_size

    def curvature_var(self) -> float:
        """``Var(gbar) = cv^2 / B``: the random part of ``R = I - lr gbar A``."""
        return self.curvature_cv**2 / self.batch_size

    def _gammas(self, streams: _Streams, shape: tuple[int, ...]) -> np.ndarray:
        shape_k = 1.0 / self.curvature_cv**2
        return streams.curvature.gamma(shape_k, 1.0 / shape_k, size=shape)

    def draw(
        self, streams: _Streams, n_steps: int, chains: int
    ) -> tuple[np.ndarray | None, np.ndarray]:
        B, d = self.batch_size, self.dim
        if self.sampling == "explicit":
            w_x = _color(streams.noise.standard_normal((n_steps, chains, B, d)), self._sqrt_w)
            if self.curvature_cv > 0:
                gam = self._gammas(streams, (n_steps, chains, B))
                m = np.einsum("tcb,tcbd->tcd", gam, w_x) / B
                gbar = gam.mean(axis=-1)
            else:
                m, gbar = w_x.mean(axis=2), None
        else:
            z = _color(streams.noise.standard_normal((n_steps, chains, d)), self._sqrt_w)
            if self.curvature_cv > 0:
                gam = self._gammas(streams, (n_steps, chains, B))
                gbar = gam.mean(axis=-1)
                m = z * (np.sqrt(np.square(gam).sum(axis=-1)) / B)[..., None]
            else:
                m, gbar = z / np.sqrt(B), None
        return gbar, m @ self.A  # A symmetric: (A m)^T = m^T A


Model = AdditiveNoise | PerSample


@dataclass
class _Streams:
    noise: np.random.Generator
    curvature: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> _Streams:
        noise, curvature = np.random.SeedSequence(seed).spawn(2)
        return cls(np.random.default_rng(noise), np.random.default_rng(curvature))


@dataclass
class Simulation:
    """What ``simulate`` returns.

    ``recorded_steps``: steps at which ``observe`` ran; ``observed[i] = observe(state at
    recorded_steps[i])``; ``per_step[t] = per_step(state at t)`` for ``t = 0..T``;
    ``final``: state at ``T`` ``(runs, tracks, chains, d)``; ``kernel_averages``:
    ``(runs, n_kernels, chains, d)``, ``sum_t kernels[k, t] w_t``.
    """

    recorded_steps: np.ndarray
    observed: np.ndarray | None
    per_step: np.ndarray | None
    final: np.ndarray
    kernel_averages: np.ndarray | None


def lr_matrix(lr: float | Sequence[float] | np.ndarray, steps: int) -> np.ndarray:
    """Normalise a learning rate, a schedule ``(T,)`` or several ``(runs, T)`` to ``(runs, T)``;
    a 1-D array of length != T is read as one constant lr per run."""
    arr = np.asarray(lr, dtype=np.float64)
    if arr.ndim == 0:
        return np.full((1, steps), float(arr))
    if arr.ndim == 1:
        if arr.shape[0] == steps:
            return arr[None, :].copy()
        return np.repeat(arr[:, None], steps, axis=1)
    if arr.ndim == 2 and arr.shape[1] == steps:
        return arr.copy()
    raise ValueError(f"lr of shape {arr.shape} does not fit {steps} steps")


def sample_gaussian(
    cov: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Draw ``shape + (d,)`` vectors from ``N(0, cov)`` (e.g. a stationary start)."""
    root = _sqrt_psd(np.atleast_2d(cov))
    return rng.standard_normal((*shape, root.shape[0])) @ root.T


class _Recorder:
    """What ``simulate`` collects after every step: observations at the recorded steps, the
    per-step observations, and the kernel averages ``sum_t kernels[k, t] w_t`` (online, so the
    iterates are never stored)."""

    def __init__(
        self,
        steps: int,
        shape: tuple[int, int, int],
        kernels: np.ndarray | None,
        record_steps: Sequence[int] | np.ndarray | None,
        observe: Observer | None,
        per_step: Observer | None,
    ) -> None:
        runs, chains, d = shape
        self.observe, self.per_step_fn = observe, per_step
        self.record = np.zeros(steps + 1, dtype=bool)
        if record_steps is not None and observe is not None:
            rs = np.asarray(record_steps, dtype=np.int64)
            if rs.min() < 0 or rs.max() > steps:
                raise ValueError(f"record_steps must lie in [0, {steps}]")
            self.record[rs] = True
        self.observed: list[np.ndarray] = []
        self.per: list[np.ndarray] = []
        self.kernels = self.kern_avg = None
        self.nz_cols: list[np.ndarray] = []
        if kernels is not None:
            k = np.atleast_2d(np.asarray(kernels, dtype=np.float64))
            if k.shape[1] != steps + 1:
                raise ValueError(f"kernels need {steps + 1} weights (w_0..w_T), got {k.shape}")
            self.kernels = k
            self.kern_avg = np.zeros((runs, k.shape[0], chains, d))
            self.nz_cols = [np.flatnonzero(k[:, t]) for t in range(steps + 1)]

    def after_step(self, t: int, state: np.ndarray) -> None:
        if self.kern_avg is not None and self.nz_cols[t].size:
            idx = self.nz_cols[t]
            self.kern_avg[:, idx] += self.kernels[idx, t][None, :, None, None] * state[:, None, 0]
        if self.record[t]:
            self.observed.append(np.array(self.observe(state)))
        if self.per_step_fn is not None:
            self.per.append(np.array(self.per_step_fn(state)))

    def result(self, state: np.ndarray) -> Simulation:
        return Simulation(
            recorded_steps=np.flatnonzero(self.record),
            observed=np.stack(self.observed) if self.observed else None,
            per_step=np.stack(self.per) if self.per else None,
            final=state,
            kernel_averages=self.kern_avg,
        )


def simulate(
    model: Model,
    lr: float | Sequence[float] | np.ndarray,
    w0: np.ndarray,
    steps: int,
    chains: int,
    seed: int,
    *,
    ema_betas: Sequence[float] = (),
    ema_start: int = 0,
    kernels: np.ndarray | None = None,
    record_steps: Sequence[int] | np.ndarray | None = None,
    observe: Observer | None = None,
    per_step: Observer | None = None,
) -> Simulation:
    """Run ``chains`` independent SGD chains on ``model`` for ``steps`` steps, for every run.

    ``lr``: see ``lr_matrix`` (runs share the noise). ``w0``: broadcastable to
    ``(runs, chains, d)``. ``observe`` / ``per_step`` map the state ``(runs, tracks, chains, d)``
    to an array (e.g. per-chain losses, chain means). ``kernels``: ``(n_kernels, steps + 1)``
    weights over ``w_0..w_T`` evaluated at the final step.
    """
    lrs = lr_matrix(lr, steps)
    runs, d = lrs.shape[0], model.dim
    betas = np.asarray(list(ema_betas), dtype=np.float64)
    state = np.empty((runs, 1 + betas.size, chains, d))
    state[:] = np.broadcast_to(np.asarray(w0, dtype=np.float64), (runs, chains, d))[:, None]
    recorder = _Recorder(steps, (runs, chains, d), kernels, record_steps, observe, per_step)
    recorder.after_step(0, state)
    streams = _Streams.from_seed(seed)
    per_sample_cost = chains * d * (model.batch_size if _explicit(model) else 1)
    chunk = max(1, min(steps, _CHUNK_ELEMENTS // max(1, per_sample_cost)))
    a = np.diag(model.A).copy() if _is_diagonal(model.A) else None  # elementwise when diagonal
    t = 0
    while t < steps:
        n = min(chunk, steps - t)
        gbar, xi = model.draw(streams, n, chains)
        for j in range(n):
            _sgd_step(model.A, a, state[:, 0], lrs[:, t], None if gbar is None else gbar[j], xi[j])
            t += 1
            _ema_step(state, betas, ema_start, t)
            recorder.after_step(t, state)
    return recorder.result(state)


def _sgd_step(
    A: np.ndarray,
    a: np.ndarray | None,
    w: np.ndarray,
    lr: np.ndarray,
    gbar: np.ndarray | None,
    xi: np.ndarray,
) -> None:
    """``w <- w - lr (gbar A w - xi)`` in place, ``w`` of shape ``(runs, chains, d)``; ``a``: the
    diagonal of ``A`` when ``A`` is diagonal."""
    grad = w * a if a is not None else w @ A
    if gbar is not None:
        grad *= gbar[None, :, None]
    grad -= xi
    grad *= lr[:, None, None]
    w -= grad


def _ema_step(state: np.ndarray, betas: np.ndarray, ema_start: int, t: int) -> None:
    """EMA tracks after step ``t``: ``v = beta v + (1 - beta) w`` past ``ema_start``, else ``w``."""
    if betas.size == 0:
        return
    w = state[:, 0]
    if t > ema_start:
        state[:, 1:] *= betas[None, :, None, None]
        state[:, 1:] += (1.0 - betas)[None, :, None, None] * w[:, None]
    else:
        state[:, 1:] = w[:, None]


def _explicit(model: Model) -> bool:
    return isinstance(model, PerSample) and model.sampling == "explicit"


def quadratic_loss(w: np.ndarray, a: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Excess loss ``1/2 sum_k a_k w_k^2`` along the last axis (diagonal ``A``); with ``groups``
    ``(d, g)`` of 0/1 columns, one loss per group of directions (e.g. fast / slow)."""
    weighted = 0.5 * np.square(w) * a
    if groups is None:
        return weighted.sum(axis=-1)
    return weighted @ groups
