"""Configuration: schema validation plus the cross-key checks a JSON schema cannot express.

The schema (``config.schema.yaml``) and the default config (``config.yaml``) are package data
beside this module, so an installed wheel finds them as a checkout does; the workflow reads
both from here (``Snakefile``, ``common.smk`` validates before any job runs). ``check`` adds the
relations between keys. Every message names the offending key.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# A path, not a Traversable: Snakemake's `configfile:` needs one, and every supported install
# (wheel, editable, PYTHONPATH=src) puts the package in a directory.
_PACKAGE_DATA = Path(str(importlib.resources.files("lrtraj")))
SCHEMA_PATH = _PACKAGE_DATA / "config.schema.yaml"
DEFAULT_CONFIG = _PACKAGE_DATA / "config.yaml"


# libyaml's loader when present: the workflow parses every config and overlay on each
# `snakemake` start, and the pure-Python loader is ~10x slower
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | Path) -> Any:
    return yaml.load(Path(path).read_text(), Loader=_Loader)  # noqa: S506 (a safe loader)


@functools.lru_cache(maxsize=4)
def _validator(schema_path: str) -> tuple[Any, dict[str, Any]]:
    import jsonschema

    from lrtraj.averaging import FAMILIES

    schema = read_yaml(schema_path)
    # each averaging family brings the schema of its parameters (lrtraj.averaging)
    averaging = schema["properties"]["sidetrips"]["properties"]["averaging"]
    averaging["properties"] = {name: dict(f.schema) for name, f in FAMILIES.items()}
    return jsonschema.validators.validator_for(schema)(schema), schema


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key."""


def validate_schema(cfg: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Validate ``cfg`` against the JSON schema, filling defaults in place."""
    validator, schema = _validator(str(schema_path))
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        lines = []
        for err in errors:
            key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
            lines.append(f"  {key}: {err.message}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _fill_defaults(cfg, schema)
    return cfg


def _fill_defaults(cfg: Any, schema: Mapping[str, Any]) -> None:
    if not isinstance(cfg, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub and key not in cfg:
            # a copy: the schema is cached, and configs must not share (or alter) its objects
            cfg[key] = copy.deepcopy(sub["default"])
        if key in cfg:
            _fill_defaults(cfg[key], sub)


def check(cfg: Mapping[str, Any]) -> None:
    """Relations between keys; raise ``ConfigError`` listing every violation."""
    problems: list[str] = []
    steps = cfg["trajectory"]["steps"]
    trips = cfg["sidetrips"]
    for b in trips["branch_steps"]:
        if b > steps:
            problems.append(f"sidetrips.branch_steps: {b} is after the burn-in's last step {steps}")
    T, every = trips["steps"], trips.get("eval_every", 50)
    from lrtraj.averaging import FAMILIES

    averaging = trips.get("averaging", {})
    spans = {
        f"sidetrips.averaging.{name}.{span}": value
        for name, params in averaging.items()
        for span, value in FAMILIES[name].spans(params).items()
    }
    for key, span in spans.items():
        if span > T:
            problems.append(f"{key}: {span} exceeds the side-trip length sidetrips.steps={T}")
        if span % every:
            problems.append(f"{key}: {span} is not a multiple of sidetrips.eval_every={every}")
    if T % every:
        problems.append(f"sidetrips.steps: {T} is not a multiple of sidetrips.eval_every={every}")
    for name, fig in cfg.get("figures", {}).items():
        b = fig.get("branch_step") if isinstance(fig, Mapping) else None
        if b is not None and b not in trips["branch_steps"]:
            problems.append(
                f"figures.{name}.branch_step: {b} is not one of sidetrips.branch_steps "
                f"{trips['branch_steps']}"
            )
        family = fig.get("family") if isinstance(fig, Mapping) else None
        if family is not None and family not in averaging:
            problems.append(f"figures.{name}.family: '{family}' is not in sidetrips.averaging")
    twins = cfg.get("twins")
    if twins:
        if twins["branch_step"] > steps:
            problems.append(
                f"twins.branch_step: {twins['branch_step']} is after the burn-in's "
                f"last step {steps}"
            )
        if twins["steps"] % twins["snapshot_every"]:
            problems.append(
                f"twins.snapshot_every: {twins['snapshot_every']} does not divide "
                f"twins.steps={twins['steps']}"
            )
    problems += _distributed_problems(cfg)
    if cfg["data"]["name"] != "noisy_digits" and not cfg["data"].get("data_dir"):
        problems.append(f"data.data_dir: required for dataset '{cfg['data']['name']}'")
    if "probes" in cfg:
        from lrtraj.probes import config_problems as probe_problems

        problems += probe_problems(cfg["probes"], cfg)
    if "quadratic" in cfg:
        from lrtraj.quadratic.experiments import config_problems

        problems += config_problems(cfg["quadratic"])
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


def _distributed_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Data-parallel ranks shard every training batch (burn-in, side-trips and twins all use
    trajectory.batch_size) and each take a GPU of their own."""
    ranks = cfg.get("distributed", {}).get("ranks", 1)
    if ranks == 1:
        return []
    problems = []
    batch = cfg["trajectory"]["batch_size"]
    if batch % ranks:
        problems.append(
            f"trajectory.batch_size: {batch} is not divisible by distributed.ranks={ranks} "
            "(each rank takes an equal shard of every batch)"
        )
    if ":" in cfg["device"]:
        problems.append(
            f"device: '{cfg['device']}' names one GPU, but distributed.ranks={ranks} gives each "
            "rank its own: use 'cuda' or 'auto'"
        )
    return problems


def deep_update(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` into ``base`` the way Snakemake merges ``--configfile`` overlays:
    mappings recursively, everything else (lists included) replaced."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def _apply_variant(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``deep_update``, except that ``key: null`` in a variant removes the key (e.g. an
    averaging method the variant does not need)."""
    for key, value in overlay.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _apply_variant(base[key], value)
        else:
            base[key] = value
    return base


def experiments(cfg: Mapping[str, Any], base_dir: str | Path = ".") -> dict[str, dict[str, Any]]:
    """The named experiments of a config: its own (``cfg["experiment"]``) and one per entry of
    ``cfg["variants"]``. A variant is an overlay on ``cfg`` (a mapping, or the path of an overlay
    file relative to ``base_dir``), so one figure can compare e.g. two noise levels or
    CIFAR-10 with CIFAR-100. Each variant is validated and checked like the config itself."""
    import copy

    base = {k: v for k, v in cfg.items() if k != "variants"}
    out = {cfg["experiment"]: dict(cfg)}
    for name, overlay in (cfg.get("variants") or {}).items():
        if overlay is None:  # an overlay file may drop a variant of the default config
            continue
        if isinstance(overlay, str):
            path = Path(base_dir) / overlay
            if not path.is_file():
                raise ConfigError(f"variants.{name}: overlay file not found: '{path}'")
            overlay = read_yaml(path) or {}
            overlay.pop("variants", None)  # variants do not nest
        variant = _apply_variant(copy.deepcopy(base), overlay or {})
        variant["experiment"] = name
        try:
            validate_schema(variant)
            check(variant)
        except ConfigError as err:
            raise ConfigError(f"variants.{name}: {err}") from None
        out[name] = variant
    wanted = (cfg.get("figures", {}).get("fig10") or {}).get("experiments", [])
    unknown = [e for e in wanted if e not in out]
    if unknown:
        raise ConfigError(
            f"figures.fig10.experiments: {unknown} are neither 'experiment' nor a key of "
            f"'variants' (known: {sorted(out)})"
        )
    return out


TRAINING_KEYS = ("data", "model", "optimizer", "evaluation", "device", "compute")


def training_sections(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What every training-like job reads (``run_burn_in``/``run_sidetrip`` keyword arguments):
    data, model, optimizer, evaluation, device and its fast paths."""
    return {key: cfg[key] for key in TRAINING_KEYS}


def check_checkpoint_steps(exps: Mapping[str, Mapping[str, Any]], steps: list[int]) -> None:
    """Every experiment's burn-in publishes the same checkpoint steps, so each must reach them."""
    problems = [
        f"{name}: trajectory.steps={c['trajectory']['steps']} ends before checkpoint step "
        f"{max(steps)} that another rule reads (branch, probe or twin steps)"
        for name, c in exps.items()
        if steps and c["trajectory"]["steps"] < max(steps)
    ]
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))


def load(*overlays: str | Path, base: str | Path | None = DEFAULT_CONFIG) -> dict[str, Any]:
    """The default config with ``overlays`` merged on top, validated and checked: what the
    workflow sees for ``snakemake --configfile=OVERLAY`` before any job runs."""
    cfg: dict[str, Any] = {}
    for path in ([base] if base else []) + list(overlays):
        layer = read_yaml(path)
        if not isinstance(layer, dict):
            raise ConfigError(f"{path}: a config file must hold a mapping")
        deep_update(cfg, layer)
    validate_schema(cfg)
    check(cfg)
    return cfg
