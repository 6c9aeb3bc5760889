"""Two-point average ``(w_{T-k} + w_T) / 2``."""

from lrtraj.averaging import Family, Params
from lrtraj.schedules import two_point_kernel


def _averager(params: Params, every: int, tensors: list):
    from lrtraj.averaging.online import SnapshotAverage

    return SnapshotAverage("two_point", (0, int(params["k"])), every, tensors)


FAMILY = Family(
    name="two_point",
    label="two-point",
    color="#D55E00",  # Okabe-Ito vermillion
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["k"],
        "properties": {"k": {"$ref": "#/$defs/positive_int"}},
    },
    kernel=lambda T, params: two_point_kernel(T, int(params["k"])),
    averager=_averager,
    spans=lambda params: {"k": int(params["k"])},
    claim="3b",
)
