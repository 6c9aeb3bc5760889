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
import math
from collections.abc import Iterable, Iterator, Mapping
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


class _StrictLoader(_Loader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses a mapping with a repeated key (PyYAML keeps the last one
    silently, so a duplicated `lr:` would quietly override the first)."""

    source = "<yaml>"


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen and key != "<<":
            raise ConfigError(
                f"{loader.source}: duplicate key '{key}' on line {line} "
                f"(first on line {seen[key]}); keep one"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML (or JSON) file; a repeated key is a ``ConfigError`` naming key and file."""
    loader = _StrictLoader(Path(path).read_text())
    loader.source = str(path)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def check_yaml_files(paths: Iterable[str | Path]) -> None:
    """Re-read config files another loader (Snakemake's) already merged, to refuse repeated
    keys that it took silently."""
    for path in paths:
        if Path(path).is_file():
            read_yaml(path)


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
    _coerce(cfg, schema, schema)
    lines = [f"  {key}: {value!r} is not a finite number" for key, value in _non_finite(cfg)]
    for err in sorted(validator.iter_errors(cfg), key=lambda e: [str(p) for p in e.path]):
        key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        lines.append(f"  {key}: {err.message}")
    if lines:
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _fill_defaults(cfg, schema)
    return cfg


def _non_finite(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    """Every NaN/inf in a config, with its dotted key: jsonschema's bounds are all false for
    NaN, so `lr: .nan` would pass `exclusiveMinimum: 0`."""
    if isinstance(value, float) and not math.isfinite(value):
        yield key or "<top level>", value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _non_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{key}.{i}")


def _resolve(sub: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in sub:
        node: Any = root
        for part in sub["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        sub = node
    return sub


def _from_text(text: str, types: set[str]) -> Any:
    """``text`` as the scalar type the schema asks for, or ``text`` itself if it is none."""
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert, name in ((int, "integer"), (int, "number"), (float, "number")):
        if name in types:
            try:
                return convert(text)
            except ValueError:
                continue
    return text


def _coerce(cfg: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Turn strings into the numbers/booleans the schema asks for, in place: Snakemake passes
    the values nested in `--config 'sidetrips={averaging: {ema: {beta: 0.95}}}'` as text."""
    schema = _resolve(schema, root)
    if isinstance(cfg, str):
        types = schema.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        return cfg if "string" in types else _from_text(cfg, types)
    if isinstance(cfg, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in cfg.items():
            sub = props.get(key, extra if isinstance(extra, Mapping) else None)
            if sub is not None:
                cfg[key] = _coerce(value, sub, root)
    elif isinstance(cfg, list) and isinstance(schema.get("items"), Mapping):
        cfg[:] = [_coerce(v, schema["items"], root) for v in cfg]
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


def with_defaults(section: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg``, one top-level section (e.g. ``data``), with the schema's defaults
    filled: the same filling ``validate_schema`` does, for callers that hand a partial section
    (tests, bench) to code that reads every key with a default as ``cfg[key]``."""
    _, schema = _validator(str(SCHEMA_PATH))
    out = copy.deepcopy(dict(cfg))
    _fill_defaults(out, schema["properties"][section])
    return out


def check(cfg: Mapping[str, Any]) -> None:
    """Relations between keys; raise ``ConfigError`` listing every violation."""
    problems: list[str] = []
    steps = cfg["trajectory"]["steps"]
    trips = cfg["sidetrips"]
    for b in trips["branch_steps"]:
        if b > steps:
            problems.append(f"sidetrips.branch_steps: {b} is after the burn-in's last step {steps}")
    T, every = trips["steps"], trips["eval_every"]
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
    resources = cfg.get("resources", {})
    gpus = resources.get("gpu", resources.get("gpus"))
    if gpus and gpus != ranks:  # NCCL refuses two ranks on one GPU
        key = "gpu" if "gpu" in resources else "gpus"
        problems.append(
            f"resources.{key}: {gpus} GPUs for distributed.ranks={ranks} ranks, which take a GPU "
            f"each: set it to {ranks} (or 0 for CPU ranks)"
        )
    for item in str(resources.get("gres", "")).split(","):  # e.g. gpu:2, gpu:a100:2, shard:1
        kind, *rest = item.strip().split(":")
        n = int(rest[-1]) if rest and rest[-1].isdigit() else 1
        if kind == "gpu" and n not in (0, ranks):
            problems.append(
                f"resources.gres: '{item.strip()}' is {n} GPU(s) for distributed.ranks={ranks} "
                f"ranks, which take a GPU each: ask for gpu:{ranks}"
            )
    tasks = resources.get("tasks", ranks)
    if tasks not in (1, ranks):
        problems.append(
            f"resources.tasks: {tasks} is neither distributed.ranks={ranks} (a task per rank, "
            "the default) nor 1 (every rank in one task)"
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
        if name == cfg["experiment"]:
            # it would replace the experiment's own config under results/<name>/
            raise ConfigError(
                f"variants.{name}: a variant cannot share the name of experiment "
                f"'{cfg['experiment']}'; rename one of them"
            )
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


def check_device(exps: Mapping[str, Mapping[str, Any]], local: bool) -> list[str]:
    """Refuse a CUDA ``device`` this host cannot give when jobs run here (``local``); return
    the problems as warnings when they go to a cluster executor, whose job checks again."""
    wanted = {name: c["device"] for name, c in exps.items() if c["device"].startswith("cuda")}
    if not wanted:
        return []  # torch is imported only for a CUDA device: it costs every start seconds
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    problems = []
    for name, device in wanted.items():
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            where = "" if name == next(iter(exps)) else f"variants.{name}: "
            problems.append(
                f"{where}device: '{device}' but this host has {count} CUDA device(s); "
                "use cpu or auto, or a cluster executor whose nodes have it"
            )
    if problems and local:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
    return problems


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
