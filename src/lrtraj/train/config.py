"""Typed config of a training job: the validated sections it reads, as frozen dataclasses.

Built once per job from the validated config (``TrainingConfig.from_config``). Defaults live in
the schema alone (``workflow/schemas/config.schema.yaml``, filled in by validation): a section
missing a key here is a config that skipped validation, and is refused naming the key. What a
run computes is fingerprinted from these objects (``fingerprint``), not from key lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Any, TypeVar

from lrtraj.compute import Compute
from lrtraj.evaluate import EvalSettings

T = TypeVar("T")


def section(cls: type[T], values: Mapping[str, Any], key: str) -> T:
    """``cls`` from config section ``key``: exactly its fields, each present."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    missing = [n for n in names if n not in values]
    unknown = sorted(set(values) - set(names))
    if missing or unknown:
        raise ValueError(
            f"{key}: missing keys {missing}, unknown keys {unknown} (validate the config first: "
            "lrtraj.config.load or the workflow fill in every default)"
        )
    return cls(**{n: values[n] for n in names})


@dataclass(frozen=True)
class ModelConfig:
    name: str
    widths: tuple[int, ...]
    init_seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))


@dataclass(frozen=True)
class OptimizerConfig:
    """PyTorch SGD's hyper-parameters besides the lr (which the schedule sets per step)."""

    momentum: float
    nesterov: bool
    weight_decay: float


@dataclass(frozen=True)
class TrainingConfig:
    """What every training-like job reads: data, model, optimizer, evaluation, device and its
    fast paths. ``data`` stays a read-only mapping: each dataset reads its own keys."""

    data: Mapping[str, Any]
    model: ModelConfig
    optimizer: OptimizerConfig
    evaluation: EvalSettings
    device: str
    compute: Compute

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> TrainingConfig:
        """From a validated config (or its training sections, ``config.training_sections``)."""
        return cls(
            data=MappingProxyType(dict(cfg["data"])),
            model=section(ModelConfig, cfg["model"], "model"),
            optimizer=section(OptimizerConfig, cfg["optimizer"], "optimizer"),
            evaluation=section(EvalSettings, cfg["evaluation"], "evaluation"),
            device=str(cfg["device"]),
            compute=Compute.from_config(cfg["compute"]),
        )

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able record of everything here, for resume fingerprints."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["data"] = dict(self.data)
        for key in ("model", "optimizer", "evaluation", "compute"):
            out[key] = asdict(out[key])
        return out
