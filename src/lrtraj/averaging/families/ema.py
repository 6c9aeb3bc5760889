"""Exponential moving average ``v_t = beta v_{t-1} + (1 - beta) w_t``, ``v_0 = w_0``."""

from lrtraj.averaging import Family, Params
from lrtraj.schedules import ema_kernel


def _averager(params: Params, every: int, tensors: list):
    from lrtraj.averaging.online import EMA

    return EMA(float(params["beta"]), tensors)


FAMILY = Family(
    name="ema",
    label="EMA",
    color="#0072B2",  # Okabe-Ito blue
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["beta"],
        "properties": {"beta": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}},
    },
    kernel=lambda T, params: ema_kernel(T, float(params["beta"])),
    averager=_averager,
    claim="3a",
)
