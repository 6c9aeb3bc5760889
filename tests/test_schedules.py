"""The tail-sum rule and the closed forms of Table 1 agree; bad windows are refused."""

import numpy as np
import pytest

from lrtraj import averaging
from lrtraj import schedules as S


@pytest.mark.parametrize("T,k", [(10, 1), (10, 4), (600, 200), (7, 7)])
def test_two_point_tail_sum_is_half_lr_on_last_k_steps(T, k):
    np.testing.assert_allclose(
        S.tail_sum(S.two_point_kernel(T, k), 0.3), S.two_point_schedule(T, k, 0.3)
    )


@pytest.mark.parametrize("T,beta", [(5, 0.5), (600, 0.99), (100, 0.0)])
def test_ema_tail_sum_matches_closed_form(T, beta):
    np.testing.assert_allclose(
        S.tail_sum(S.ema_kernel(T, beta), 0.1), S.ema_schedule(T, beta, 0.1), atol=1e-15
    )


def test_ema_started_late_keeps_full_lr_before_start():
    sched = S.tail_sum(S.ema_kernel(50, 0.9, start=20), 1.0)
    np.testing.assert_allclose(sched, S.ema_schedule(50, 0.9, 1.0, start=20), atol=1e-15)
    assert np.all(sched[:20] == 1.0)


def test_bias_corrected_ema_schedule():
    T, beta = 40, 0.9
    i = np.arange(T)
    expected = (1 - beta ** (T - i)) / (1 - beta**T)
    np.testing.assert_allclose(S.tail_sum(S.ema_kernel(T, beta, bias_corrected=True)), expected)


@pytest.mark.parametrize("T,n,c", [(600, 5, 100), (12, 3, 4), (10, 2, 10)])
def test_swa_tail_sum_matches_segments(T, n, c):
    np.testing.assert_allclose(S.tail_sum(S.swa_kernel(T, n, c), 2.0), S.swa_schedule(T, n, c, 2.0))


def test_kernels_sum_to_one_and_schedules_end_below_lr():
    for kernel in (S.two_point_kernel(30, 10), S.ema_kernel(30, 0.8), S.swa_kernel(30, 4, 5)):
        assert kernel.sum() == pytest.approx(1.0, abs=1e-14)
        sched = S.tail_sum(kernel, 1.0)
        assert sched[0] <= 1.0 and sched[-1] < 1.0 and np.all(np.diff(sched) <= 1e-15)


@pytest.mark.parametrize(
    "call",
    [
        lambda: S.two_point_kernel(10, 11),
        lambda: S.swa_kernel(10, 3, 6),
        lambda: S.ema_kernel(10, 1.0),
        lambda: S.tail_sum(np.array([0.5, 0.4])),
    ],
)
def test_invalid_windows_are_refused(call):
    with pytest.raises(ValueError):
        call()


def test_each_family_schedule_is_the_tail_sum_of_its_kernel():
    fam = averaging.get("swa")
    np.testing.assert_allclose(
        fam.schedule({"n": 5, "c": 100}, 600, 0.1), S.swa_schedule(600, 5, 100, 0.1)
    )
    with pytest.raises(ValueError, match="unknown averaging family 'polyak'"):
        averaging.get("polyak")
