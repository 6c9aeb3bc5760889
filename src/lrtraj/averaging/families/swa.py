"""Stochastic weight averaging: the uniform average of ``n`` checkpoints ``c`` steps apart,
the last one at ``T``."""

from lrtraj.averaging import Family, Params
from lrtraj.schedules import swa_kernel


def _averager(params: Params, every: int, tensors: list):
    from lrtraj.averaging.online import SnapshotAverage

    n, c = int(params["n"]), int(params["c"])
    return SnapshotAverage("swa", [j * c for j in range(n)], every, tensors)


FAMILY = Family(
    name="swa",
    label="SWA",
    color="#009E73",  # Okabe-Ito bluish green
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["n", "c"],
        "properties": {
            "n": {"type": "integer", "minimum": 2},
            "c": {"$ref": "#/$defs/positive_int"},
        },
    },
    kernel=lambda T, params: swa_kernel(T, int(params["n"]), int(params["c"])),
    averager=_averager,
    spans=lambda params: {
        "c": int(params["c"]),
        "(n-1)*c": (int(params["n"]) - 1) * int(params["c"]),
    },
    claim="3c",
)
