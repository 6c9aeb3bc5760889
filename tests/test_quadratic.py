"""Quadratic model: exact theory vs itself (to rounding) and vs Monte Carlo (to a tolerance
derived from the number of chains).

Monte Carlo tolerances: a comparison of an estimate with standard error ``se`` (computed from
the chains) passes when ``|estimate - theory| <= z * se`` with ``z`` the two-sided normal
quantile for a family-wise false-alarm rate of 1e-4 over the comparisons made in that test
(Bonferroni). Seeds are fixed, so the tests are deterministic; the tolerance says how far from
the theory a correct simulator can land, not a fudge factor.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from lrtraj.quadratic import experiments, theory
from lrtraj.quadratic import simulate as sim_mod
from lrtraj.quadratic.simulate import AdditiveNoise, PerSample, sample_gaussian, simulate
from lrtraj.schedules import ema_kernel, linear_decay_schedule, swa_kernel, two_point_kernel

FAMILY_ALPHA = 1e-4


def z_crit(n_comparisons: int, alpha: float = FAMILY_ALPHA) -> float:
    return float(norm.isf(alpha / (2 * n_comparisons)))


def assert_within_se(estimate, se, expected, what: str) -> None:
    estimate, se, expected = (np.asarray(x, dtype=float).ravel() for x in (estimate, se, expected))
    z = np.abs(estimate - expected) / se
    limit = z_crit(z.size)
    assert z.max() <= limit, f"{what}: max |z| = {z.max():.2f} > {limit:.2f} ({z.size} tests)"


def random_spd(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q, rng.uniform(0.05, 1.5, d)


# --------------------------------------------------------------------------- exact identities
def test_lyapunov_matches_diagonal_closed_form() -> None:
    rng = np.random.default_rng(0)
    q, a = random_spd(rng, 6)
    s = rng.uniform(0.1, 2.0, 6)
    lr = 0.7
    closed = theory.stationary_variance(a, s, lr)
    assert closed == pytest.approx(lr * s / (a * (2 - lr * a)), rel=1e-15)
    C = theory.stationary_cov(np.diag(a), np.diag(s), lr)
    np.testing.assert_allclose(C, np.diag(closed), rtol=0, atol=1e-12 * closed.max())
    # rotated: C(Q A Q^T, Q S Q^T) = Q C Q^T
    C_rot = theory.stationary_cov(q @ np.diag(a) @ q.T, q @ np.diag(s) @ q.T, lr)
    np.testing.assert_allclose(C_rot, q @ np.diag(closed) @ q.T, rtol=0, atol=1e-12 * closed.max())
    # per-sample curvature noise: the Kronecker solve matches the diagonal closed form
    C_v = theory.stationary_cov(np.diag(a), np.diag(s), lr, curvature_var=0.3)
    closed_v = theory.stationary_variance(a, s, lr, curvature_var=0.3)
    np.testing.assert_allclose(C_v, np.diag(closed_v), rtol=0, atol=1e-12 * closed_v.max())


def test_lemma1_identity_case() -> None:
    """A_x = I: E|w|^2 = d lr sigma^2 / (B (2 - lr))."""
    d, sigma2, B, lr = 5, 2.0, 4, 0.3
    model = PerSample(np.eye(d), sigma2 * np.eye(d), B)
    total = np.trace(theory.stationary_cov(model.A, model.noise_cov(), lr))
    assert total == pytest.approx(d * lr * sigma2 / (B * (2 - lr)), rel=1e-13)


def test_kernel_factor_matches_double_sum_and_closed_forms() -> None:
    rho = np.array([0.999, 0.95, 0.5, -0.3])
    rng = np.random.default_rng(1)
    kernel = rng.uniform(size=40)
    kernel /= kernel.sum()
    lag = np.abs(np.subtract.outer(np.arange(40), np.arange(40)))
    brute = np.array([kernel @ (r**lag) @ kernel for r in rho])
    np.testing.assert_allclose(theory.kernel_factor(kernel, rho), brute, rtol=1e-12)

    T = 6000
    np.testing.assert_allclose(
        theory.kernel_factor(two_point_kernel(T, 37), rho),
        theory.two_point_factor(rho, 37),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        theory.kernel_factor(swa_kernel(T, 5, 20), rho),
        theory.n_point_factor(rho, 5, 20),
        rtol=1e-12,
    )
    # a long EMA kernel: the weight beta^T on w_0 is below rounding
    np.testing.assert_allclose(
        theory.kernel_factor(ema_kernel(T, 0.98), rho), theory.ema_factor(rho, 0.98), rtol=1e-10
    )
    assert theory.n_point_factor(0.0, 7, 3) == pytest.approx(1 / 7)


def test_effective_lr_is_exact_and_has_the_small_lr_limits() -> None:
    a = np.array([1e-4, 0.1, 1.0, 1.8])
    lr, s = 1.0, 0.3
    for f in (0.5, 0.25, 0.8):
        ratio = theory.effective_lr_ratio(lr, a, f)
        lr_eff = ratio * lr
        got = np.array(
            [theory.stationary_variance(ai, s, li) for ai, li in zip(a, lr_eff, strict=True)]
        )
        np.testing.assert_allclose(got, f * theory.stationary_variance(a, s, lr), rtol=1e-12)
        assert ratio[0] == pytest.approx(f, rel=1e-4)  # lr a -> 0: lr/2, lr/n
    # with curvature noise too
    v = 0.2
    ratio = theory.effective_lr_ratio(0.5, 1.0, 0.5, curvature_var=v)
    assert theory.stationary_variance(1.0, s, 0.5 * ratio, v) == pytest.approx(
        0.5 * theory.stationary_variance(1.0, s, 0.5, v), rel=1e-12
    )


def test_moment_recursion_matches_matrix_form_under_a_schedule() -> None:
    a = np.array([1.0, 0.3, 0.01])
    s = np.array([0.2, 0.5, 0.1])
    T, v = 300, 0.07
    lr = linear_decay_schedule(T, 0.8)
    w0 = np.array([1.0, -2.0, 3.0])
    mom = theory.moment_recursion(a, s, lr, T, w0, 0.1, curvature_var=v)
    means, Q = theory.moment_recursion_matrix(
        np.diag(a), np.diag(s), lr, T, w0, 0.1 * np.eye(3), curvature_var=v
    )
    np.testing.assert_allclose(mom.q_w[0], np.diagonal(Q, axis1=1, axis2=2), rtol=1e-12)
    np.testing.assert_allclose(mom.mean_w[0], means, rtol=1e-12, atol=1e-300)


def test_ema_recursion_matches_kernel_formula() -> None:
    """The EMA's second moment from the joint (w, v) recursion equals the kernel formula
    sum kappa_j kappa_l E[w_j w_l] for an arbitrary schedule (both exact)."""
    a = np.array([1.0, 0.05])
    s = np.array([0.01, 0.002])
    T, beta, start = 400, 0.95, 50
    lr = 0.6 * (1 + np.sin(np.arange(T) / 30.0)) / 2 + 0.05
    mom = theory.moment_recursion(
        a, s, lr, T, [1.0, 4.0], ema_betas=[beta], ema_start=start, curvature_var=0.02
    )
    rho = 1.0 - lr[:, None] * a
    kernel = ema_kernel(T, beta, start=start)
    via_kernel = theory.averaged_second_moment(kernel, mom.q_w[0], rho)
    np.testing.assert_allclose(mom.q_v[0, 0, -1], via_kernel, rtol=1e-10)


def test_paper_fast_slow_numbers_from_exact_theory() -> None:
    """docs/theory.md §1.3 / Section 5.1: loss at T = 20000 is 1.67e-2 (lr 0.5), 5.0e-4
    (lr 0.5 + EMA), 0.678 (lr 0.05); only lr 0.5 + EMA goes below 1e-3, near step 9300."""
    a = np.r_[np.ones(10), np.full(10, 1e-3)]
    mom = theory.moment_recursion(a, a / 100, [0.5, 0.05], 20000, a**-0.5, ema_betas=[0.98])
    sgd = theory.expected_loss(a, mom.q_w)
    ema = theory.expected_loss(a, mom.q_v[:, 0])
    assert sgd[0, -1] == pytest.approx(1.67e-2, rel=5e-3)
    assert ema[0, -1] == pytest.approx(5.0e-4, rel=1e-2)
    assert sgd[1, -1] == pytest.approx(0.678, rel=1e-3)
    crossings = [theory.first_step_below(x, 1e-3) for x in (sgd[0], ema[0], sgd[1], ema[1])]
    assert np.isnan(crossings[0]) and np.isnan(crossings[2]) and np.isnan(crossings[3])
    assert crossings[1] == pytest.approx(9300, abs=100)


# --------------------------------------------------------------------------- Monte Carlo
def test_stationary_covariance_monte_carlo_general_A() -> None:
    """Non-diagonal A and S: every covariance entry at the final step vs the Lyapunov solution."""
    rng = np.random.default_rng(2)
    q, a = random_spd(rng, 3)
    A = q @ np.diag(a) @ q.T
    S = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.8]])
    lr, chains = 0.4, 4000
    C = theory.stationary_cov(A, S, lr)
    steps = int(np.ceil(12 / (lr * a.min())))
    out = simulate(AdditiveNoise(A, S), lr, np.zeros(3), steps, chains, seed=3)
    w = out.final[0, 0]
    prod = w[:, :, None] * w[:, None, :]
    est, se = prod.mean(axis=0), prod.std(axis=0, ddof=1) / np.sqrt(chains)
    iu = np.triu_indices(3)
    assert_within_se(est[iu], se[iu], C[iu], "stationary covariance")


@pytest.mark.parametrize("sampling", ["batch_mean", "explicit"])
def test_per_sample_moment_recursion_monte_carlo(sampling: str) -> None:
    """Per-sample quadratics with w_x ~ N(0, A^-1) (Sigma = A) and per-sample curvature noise,
    a decaying schedule and an EMA: E[w_t^2] and E[v_t^2] per direction vs the exact recursion,
    including the mean drift from w_0."""
    a = np.array([1.0, 0.2, 0.02])
    B, cv, T, chains, beta = 8, 0.6, 150, 3000, 0.9
    model = PerSample.diagonal(a, 1 / a, B, curvature_cv=cv, sampling=sampling)
    lr = linear_decay_schedule(T, 0.9) + 0.05
    w0 = a**-0.5
    checks = np.array([5, 40, 150])
    out = simulate(
        model,
        lr,
        w0,
        T,
        chains,
        seed=4,
        ema_betas=[beta],
        record_steps=checks,
        observe=lambda st: np.square(st[0]),
    )  # (tracks, chains, d)
    mom = theory.moment_recursion(
        a,
        np.diag(model.noise_cov()),
        lr,
        T,
        w0,
        curvature_var=model.curvature_var(),
        ema_betas=[beta],
    )
    est = out.observed.mean(axis=2)  # (checks, tracks, d)
    se = out.observed.std(axis=2, ddof=1) / np.sqrt(chains)
    expected = np.stack([mom.q_w[0, checks], mom.q_v[0, 0, checks]], axis=1)
    assert_within_se(est, se, expected, f"per-sample moments ({sampling})")
    # the mean drift alone: E w_t = prod(1 - lr_i a) w_0
    mean_est = out.final[0, 0].mean(axis=0)
    mean_se = out.final[0, 0].std(axis=0, ddof=1) / np.sqrt(chains)
    assert_within_se(mean_est, mean_se, mom.mean_w[0, -1], "mean drift")


def test_appendix_a_monte_carlo_matches_exact_kernels() -> None:
    df = experiments.run_appendix_a(
        seed=5,
        chains=3000,
        eigenvalues=[0.05, 0.5, 3.0],
        lr=0.2,
        batch_size=4,
        steps=400,
        two_point_k=[1, 10, 100],
        n_point_n=[2, 4],
        n_point_spacing=30,
        ema_betas=[0.6, 0.95],
        grid_points=10,
    )
    pts = df[df["direction"].str.startswith("a=")]
    piv = pts.pivot_table(
        index=["method", "param", "curvature"], columns=["statistic", "source"], values="value"
    )
    assert_within_se(
        piv[("variance_ratio", "monte_carlo")],
        piv[("variance_ratio_sem", "monte_carlo")],
        piv[("variance_ratio_kernel", "theory")],
        "averaged-iterate variance",
    )
    # finite kernels vs closed forms: identical for two-/n-point, beta^T-close for the EMA
    np.testing.assert_allclose(
        piv[("variance_ratio", "theory")], piv[("variance_ratio_kernel", "theory")], rtol=1e-8
    )


def test_lemma1_slope_and_closed_form() -> None:
    df = experiments.run_lemma1(
        seed=6,
        chains=400,
        dim=4,
        w_var=1.0,
        batch_size=5,
        lrs=[0.02, 0.05, 0.1, 0.3, 1.0],
        relax_times=6.0,
        thin=5,
        fit_max_lr=0.1,
    )
    sgd = df[(df["method"] == "sgd") & (df["param_name"] == "lr")]
    piv = sgd.pivot_table(index="lr", columns=["statistic", "source"], values="value")
    assert_within_se(
        piv[("mean_sq_radius", "monte_carlo")],
        piv[("mean_sq_radius_sem", "monte_carlo")],
        piv[("mean_sq_radius", "theory")],
        "Lemma 1 radius",
    )
    slope = df[(df["statistic"] == "loglog_slope")].set_index("source")["value"]
    assert slope["theory"] == pytest.approx(0.5, abs=0.02)
    assert slope["monte_carlo"] == pytest.approx(slope["theory"], abs=0.03)


def test_geometry_balance_and_midpoint() -> None:
    df = experiments.run_geometry(
        seed=7,
        chains=200,
        eigenvalues=[1.0, 0.25],
        angle_deg=40,
        noise_var=0.5,
        lr=0.2,
        burn_in=200,
        steps=600,
        gap=100,
    )
    st = df[df["method"] != "trajectory"].set_index(["statistic", "source"])["value"]
    names = ["cov_00", "cov_01", "cov_11", "mean_w_dot_step", "mean_sq_step", "midpoint_loss_ratio"]
    assert_within_se(
        [st[(n, "monte_carlo")] for n in names],
        [st[(f"{n}_sem", "monte_carlo")] for n in names],
        [st[(n, "theory")] for n in names],
        "geometry statistics",
    )
    # Lemma 1 balance at stationarity is exact in theory
    assert 2 * st[("mean_w_dot_step", "theory")] + st[("mean_sq_step", "theory")] == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_fast_slow_small_monte_carlo_vs_theory() -> None:
    df = experiments.run_fast_slow(
        seed=8,
        chains=300,
        dim_fast=2,
        dim_slow=2,
        a_fast=1.0,
        a_slow=0.01,
        batch_size=10,
        lrs=[0.5, 0.1],
        ema_beta=0.9,
        steps=600,
        record_every=100,
        threshold=5e-3,
        curvature_cv=0.3,
    )
    rows = df[(df["step"].isin([100, 600])) & (df["direction"] != "total")]
    piv = rows.pivot_table(
        index=["lr", "method", "direction", "step"], columns=["statistic", "source"], values="value"
    )
    assert_within_se(
        piv[("mean", "monte_carlo")],
        piv[("sem", "monte_carlo")],
        piv[("mean", "theory")],
        "fast/slow losses",
    )
    assert set(df["source"]) == {"theory", "monte_carlo"}


def test_simulation_is_deterministic_and_chunk_invariant(monkeypatch) -> None:
    model = PerSample.diagonal([1.0, 0.1], [1.0, 10.0], 5, curvature_cv=0.4)
    kw = {"ema_betas": [0.9], "kernels": two_point_kernel(50, 7)[None]}
    ref = simulate(model, [0.3, 0.1], np.ones(2), 50, 16, seed=9, **kw)
    again = simulate(model, [0.3, 0.1], np.ones(2), 50, 16, seed=9, **kw)
    np.testing.assert_array_equal(ref.final, again.final)
    monkeypatch.setattr(sim_mod, "_CHUNK_ELEMENTS", 40)  # 1 step per chunk
    small = simulate(model, [0.3, 0.1], np.ones(2), 50, 16, seed=9, **kw)
    np.testing.assert_array_equal(ref.final, small.final)
    np.testing.assert_array_equal(ref.kernel_averages, small.kernel_averages)
    other = simulate(model, [0.3, 0.1], np.ones(2), 50, 16, seed=10, **kw)
    assert not np.array_equal(ref.final, other.final)


def test_sample_gaussian_and_input_validation() -> None:
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = sample_gaussian(cov, (20000,), np.random.default_rng(0))
    assert x.shape == (20000, 2)
    with pytest.raises(ValueError):
        AdditiveNoise(np.array([[1.0, 2.0], [0.0, 1.0]]), np.eye(2))  # not symmetric
    with pytest.raises(ValueError):
        theory.stationary_variance(1.0, 1.0, 2.5)  # unstable
    with pytest.raises(ValueError):
        simulate(AdditiveNoise(np.eye(2), np.eye(2)), np.ones((2, 7)), np.zeros(2), 5, 2, 0)
