"""Lemma 2: with constant gradients an average equals its tail-sum schedule run, exactly."""

import pytest

from lrtraj.equivalence import measure_row, table1
from lrtraj.schedules import TABLE1_ROWS

PARAMS = {"ema": {"beta": 0.95}, "two_point": {"k": 30}, "swa": {"n": 4, "c": 10}, "ema_start": 40}


@pytest.mark.parametrize("row", [r for r, _, _ in TABLE1_ROWS])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_average_equals_schedule_under_constant_gradients(row, momentum):
    assert measure_row(row, PARAMS, T=100, lr=0.1, momentum=momentum, dim=16, seed=3) < 1e-12


def test_table_has_every_row_and_momentum():
    df = table1(PARAMS, steps=60, lr=0.05, momenta=[0.0, 0.9], dim=4, seed=0)
    assert len(df) == 2 * len(TABLE1_ROWS)
    assert (df["max_abs_deviation"] < 1e-12).all()
