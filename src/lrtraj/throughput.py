"""Training throughput per (model, image size, device kind): the table ``lrtraj plan`` turns
images into device-hours with (``throughput.yaml`` beside this module, each entry measured or
declared with its source), and the reader of ``bench/device_check.py``'s report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrtraj import config as lrconfig
from lrtraj.data import image_size

THROUGHPUT_TABLE = Path(__file__).with_name("throughput.yaml")


class ThroughputError(ValueError):
    """A throughput file cannot be read or an entry is malformed."""


@dataclass(frozen=True)
class Throughput:
    model: str
    image_size: int
    device: str  # "cpu" or "cuda"
    images_per_s: float
    status: str  # "measured" or "declared"
    source: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.model, self.image_size, self.device)


def _entries(
    rows: Iterable[Mapping[str, Any]], where: str
) -> dict[tuple[str, int, str], Throughput]:
    out = {}
    for i, row in enumerate(rows):
        try:
            entry = Throughput(
                str(row["model"]),
                int(row["image_size"]),
                str(row["device"]),
                float(row["images_per_s"]),
                str(row["status"]),
                " ".join(str(row["source"]).split()),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ThroughputError(f"{where}: entries[{i}]: {err!r}") from None
        if entry.status not in ("measured", "declared"):
            raise ThroughputError(f"{where}: entries[{i}].status must be measured or declared")
        out[entry.key] = entry
    return out


def _device_check(report: Mapping[str, Any], where: str) -> dict[tuple[str, int, str], Throughput]:
    """Entries from ``bench/device_check.py``'s report: per workload, the engine's compiled
    images/s where timed, else its eager images/s."""
    name = str(report.get("device", "?"))
    kind = "cpu" if name in ("x86_64", "aarch64", "arm64", "AMD64") else "cuda"
    rows = []
    for shape, result in (report.get("throughput") or {}).items():
        for contender in ("engine_compiled", "engine_eager"):
            timed = result.get(contender)
            if isinstance(timed, dict) and "images_per_s" in timed:
                source = (
                    f"{where} (bench/device_check.py part 1, workload {shape}, {contender}, "
                    f"batch {report.get('batch_size')}), {name}, {report.get('date')}"
                )
                rows.append(
                    {
                        "model": result["model"],
                        "image_size": result["image_size"],
                        "device": kind,
                        "images_per_s": timed["images_per_s"],
                        "status": "measured",
                        "source": source,
                    }
                )
                break
    return _entries(rows, where)


def read_throughput(path: str | Path) -> dict[tuple[str, int, str], Throughput]:
    """A throughput table (``entries:`` like ``throughput.yaml``) or a ``device_check.json``."""
    path = Path(path)
    try:
        data = lrconfig.read_yaml(path)  # YAML reads JSON too
    except (OSError, ValueError) as err:
        raise ThroughputError(f"--throughput: cannot read {path}: {err}") from None
    if isinstance(data, Mapping) and "throughput" in data:
        return _device_check(data, str(path))
    if isinstance(data, Mapping) and isinstance(data.get("entries"), list):
        return _entries(data["entries"], str(path))
    raise ThroughputError(f"{path}: neither a throughput table ('entries') nor a device_check.json")


def device_kind(cfg: Mapping[str, Any]) -> str:
    """``cuda`` or ``cpu``: where the config's training jobs run (``auto``: cuda when the jobs
    ask for GPUs)."""
    device = cfg["device"]
    if device == "auto":
        return "cuda" if (cfg.get("resources") or {}).get("gpus") else "cpu"
    return "cuda" if device.startswith("cuda") else "cpu"


def throughput_key(cfg: Mapping[str, Any]) -> tuple[str, int, str]:
    return (cfg["model"]["name"], image_size(cfg["data"]), device_kind(cfg))
