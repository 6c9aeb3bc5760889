"""Cost preview of a target before anything is submitted (``lrtraj plan``).

The job list is Snakemake's own: ``snakemake --dry-run`` on the checkout's Snakefile with the
user's config files and targets (with ``--forceall``: the whole target from scratch), each job
block's ``rule`` and ``wildcards`` parsed. Each job is costed from the config its experiment
sees (``lrtraj.config.load`` and ``lrtraj.config.experiments``, as ``common.smk`` builds them)
by the cost model of its rule in ``COSTS``: SGD steps, training images (forward + backward) and
evaluation images (forward only). Rules without a cost model (figures, summaries, distances,
the quadratic simulations) are *light*: CPU seconds to minutes, counted as 0 device-hours.

Device-hours = (training images + ``EVAL_IMAGE_COST`` x evaluation images) / images per second
of the job's (model, image size, device kind) in the throughput table
(``src/lrtraj/throughput.yaml``, each entry measured or declared, overridable with
``--throughput``). Data-parallel jobs are assumed to scale linearly: their GPU-hours are the same
and their wall time is divided by the GPUs.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrtraj import config as lrconfig
from lrtraj.data import eval_split_sizes
from lrtraj.throughput import THROUGHPUT_TABLE, Throughput, read_throughput, throughput_key


def _checkout() -> Path:
    """The workflow's checkout (Snakefile, config/, workflow/): the one this package lives in
    (src layout), else the working directory (an installed package run from a checkout)."""
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / "Snakefile").is_file():
            return candidate
    return Path.cwd()


ROOT = _checkout()
# A forward pass costs about a third of forward + backward (the backward computes gradients of
# both activations and weights: about twice the forward's FLOPs).
EVAL_IMAGE_COST = 1 / 3
KINDS = ("cuda", "cpu")  # device kinds, in the order of the hours columns


class PlanError(RuntimeError):
    """The dry run failed or its output could not be read."""


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: Mapping[str, str]


@dataclass(frozen=True)
class Cost:
    """What one job computes: optimizer steps, images through forward + backward, images
    through a forward pass only; ``note`` says where the count is an approximation."""

    steps: int
    train_images: int
    eval_images: int
    note: str | None = None


# ----------------------------------------------------------------------------- cost models
CostModel = Callable[[Mapping[str, Any], Mapping[str, str]], Cost]
COSTS: dict[str, CostModel] = {}


def cost_model(rule: str) -> Callable[[CostModel], CostModel]:
    def register(fn: CostModel) -> CostModel:
        COSTS[rule] = fn
        return fn

    return register


def evaluation_points(steps: int, every: int) -> list[int]:
    """Steps since the start at which ``sgd_loop`` evaluates: the start, every ``every``-th
    step and the last."""
    return sorted({0, steps, *range(every, steps + 1, every)})


def images_per_evaluation(cfg: Mapping[str, Any]) -> int:
    """Forward images of evaluating one model: every split, plus the BatchNorm-recompute
    batches (``evaluation.batchnorm: recompute``)."""
    ev = cfg["evaluation"]
    bn = ev["bn_batches"] * ev["bn_batch_size"] if ev["batchnorm"] == "recompute" else 0
    return sum(eval_split_sizes(cfg["data"]).values()) + bn


def _training_run(cfg: Mapping[str, Any], steps: int, batch: int, models_evaluated: int) -> Cost:
    return Cost(steps, steps * batch, models_evaluated * images_per_evaluation(cfg))


@cost_model("burn_in")
def burn_in(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    traj = cfg["trajectory"]
    points = evaluation_points(traj["steps"], traj["eval_every"])
    return _training_run(cfg, traj["steps"], traj["batch_size"], len(points))


@cost_model("sidetrip")
def sidetrip(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    from lrtraj.averaging import FAMILIES

    trips = cfg["sidetrips"]
    points = evaluation_points(trips["steps"], trips["eval_every"])
    models = len(points)
    if wildcards["method"] == "constant":
        # the constant run also evaluates each average at every evaluation step its window
        # (the family's longest span; EMA has none) fits into
        for family, params in trips["averaging"].items():
            window = max(FAMILIES[family].spans(params).values(), default=0)
            models += sum(1 for p in points if p >= window)
    return _training_run(cfg, trips["steps"], cfg["trajectory"]["batch_size"], models)


@cost_model("twin")
def twin(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    from lrtraj.twins import eval_every

    steps = cfg["twins"]["steps"]
    points = evaluation_points(steps, eval_every(steps))
    return _training_run(cfg, steps, cfg["trajectory"]["batch_size"], len(points))


@cost_model("probe_sweep")
def probe_sweep(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    sweep = cfg["probes"]["sweep"]
    sizes = sweep["batch_sizes"]
    # per batch size: one gradient of the fixed batch, then the loss before the step and at
    # each lr on the fixed and the held-out batch
    return Cost(
        0,
        sum(sizes),
        sum((sweep["num_lrs"] + 1) * 2 * b for b in sizes),
        "line points counted as plain forwards (the batched vmap form is not modelled)",
    )


@cost_model("probe_fixed_batch")
def probe_fixed_batch(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    from lrtraj.probes.fixed_batch import fixed_batch_paths, record_steps

    gd = cfg["probes"]["fixed_batch"]
    b, branches = gd["batch_size"], gd["branch_steps"]
    recorded = len(record_steps(gd["steps"], gd["record_every"]))
    paths = len(fixed_batch_paths(branches))
    # GD on one batch from each branch, losses on both batches at the recorded steps, then
    # both batches at each point of every interpolation path
    eval_images = len(branches) * recorded * 2 * b + paths * gd["interpolation_points"] * 2 * b
    steps = len(branches) * gd["steps"]
    return Cost(steps, steps * b, eval_images)


@cost_model("probe_alignment")
def probe_alignment(cfg: Mapping[str, Any], wildcards: Mapping[str, str]) -> Cost:
    from lrtraj.probes.alignment import measure_steps

    align = cfg["probes"]["alignment"]
    b, seeds = cfg["trajectory"]["batch_size"], align["data_seeds"]
    measured = len(measure_steps(align["steps"], align["measure_every"]))
    steps = len(seeds) * align["steps"]
    # each measured step takes three gradients (the fixed batch and two independent ones),
    # each a forward and backward without an update
    return Cost(
        steps,
        steps * b + len(seeds) * measured * 3 * b,
        0,
        "probe gradients counted as training images",
    )


# ----------------------------------------------------------------------------- the job list
_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\s*$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def parse_dry_run(text: str) -> list[Job]:
    """The jobs of a ``snakemake --dry-run`` log: each block's ``rule NAME:`` line and its
    ``wildcards: k=v, ...`` line (absent for a rule without wildcards)."""
    jobs: list[Job] = []
    rule, wildcards = None, {}
    for line in text.splitlines():
        if match := _JOB.match(line):
            if rule is not None:
                jobs.append(Job(rule, wildcards))
            rule, wildcards = match.group(1), {}
        elif rule is not None and (match := _WILDCARDS.match(line)):
            wildcards = dict(re.findall(r"(\w+)=([^,]*)(?:, |$)", match.group(1)))
        elif rule is not None and not line.strip():
            jobs.append(Job(rule, wildcards))
            rule, wildcards = None, {}
    if rule is not None:
        jobs.append(Job(rule, wildcards))
    return jobs


def dry_run(
    configfiles: Sequence[str | Path],
    targets: Sequence[str],
    *,
    forceall: bool = False,
    directory: str | Path | None = None,
    root: Path = ROOT,
) -> list[Job]:
    """The jobs Snakemake would run for ``targets`` (all of them with ``forceall``)."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "--dry-run", "--nolock"]
    cmd += ["--snakefile", str(root / "Snakefile")]
    if forceall:
        cmd.append("--forceall")
    if directory is not None:
        cmd += ["--directory", str(Path(directory).resolve())]
    if configfiles:
        cmd += ["--configfile", *(str(Path(f).resolve()) for f in configfiles)]
    done = subprocess.run(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if done.returncode:
        tail = "\n".join(done.stdout.splitlines()[-20:])
        raise PlanError(f"snakemake --dry-run failed (exit {done.returncode}):\n{tail}")
    return parse_dry_run(done.stdout)


# ----------------------------------------------------------------------------- the plan
@dataclass
class RuleCost:
    """The jobs of one rule: summed counts, device-hours (None: light, or no throughput
    entry) and the throughput entries used."""

    rule: str
    jobs: int = 0
    cost: Cost | None = None
    hours: dict[str, float] = dataclasses.field(default_factory=dict)  # device kind -> hours
    used: dict[tuple[str, int, str], Throughput | None] = dataclasses.field(default_factory=dict)

    @property
    def light(self) -> bool:
        return self.cost is None


def _add(a: Cost | None, b: Cost) -> Cost:
    if a is None:
        return b
    return Cost(
        a.steps + b.steps,
        a.train_images + b.train_images,
        a.eval_images + b.eval_images,
        a.note or b.note,
    )


def plan(
    jobs: Sequence[Job],
    experiments: Mapping[str, Mapping[str, Any]],
    main: str,
    table: Mapping[tuple[str, int, str], Throughput],
    costs: Mapping[str, CostModel] = COSTS,
) -> list[RuleCost]:
    """Cost of each rule's jobs: rules with a cost model in the registry's order, then the
    light ones by name. A job's config is its ``exp`` wildcard's experiment, else the main
    experiment ``main`` (the probe rules)."""
    rows: dict[str, RuleCost] = {}
    for job in jobs:
        row = rows.setdefault(job.rule, RuleCost(job.rule))
        row.jobs += 1
        if job.rule not in costs:
            continue
        cfg = experiments[job.wildcards.get("exp", main)]
        cost = costs[job.rule](cfg, job.wildcards)
        row.cost = _add(row.cost, cost)
        key = throughput_key(cfg)
        entry = row.used[key] = table.get(key)
        if entry is not None:
            images = cost.train_images + EVAL_IMAGE_COST * cost.eval_images
            row.hours[key[2]] = row.hours.get(key[2], 0.0) + images / entry.images_per_s / 3600
    order = {rule: i for i, rule in enumerate(costs)}
    return sorted(rows.values(), key=lambda r: (order.get(r.rule, len(order)), r.rule))


def _fmt(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n:,.0f}" if isinstance(n, int) or n >= 100 else f"{n:.3g}"


def render(rows: Sequence[RuleCost]) -> str:
    """The table a user reads: one line per rule and the total, then the throughput entries
    used (measured or declared, with their source) and the approximations made."""
    head = ("rule", "jobs", "SGD steps", "train images", "eval images", "GPU-h", "CPU-h")  # KINDS
    lines = [head]
    for r in rows:
        c = r.cost
        missing = {key[2] for key, entry in r.used.items() if entry is None}
        cells = [
            "0" if r.light else "?" if kind in missing else _fmt(r.hours.get(kind))
            for kind in KINDS
        ]
        counts = (
            ["-"] * 3 if c is None else [_fmt(c.steps), _fmt(c.train_images), _fmt(c.eval_images)]
        )
        lines.append((r.rule + (" (light)" if r.light else ""), str(r.jobs), *counts, *cells))
    heavy = [r for r in rows if not r.light]
    unknown = {key[2] for r in rows for key, entry in r.used.items() if entry is None}
    total = [
        _fmt(sum(r.hours.get(kind, 0.0) for r in rows)) + (" + ?" if kind in unknown else "")
        for kind in KINDS
    ]
    lines.append(
        (
            "total",
            str(sum(r.jobs for r in rows)),
            _fmt(sum(r.cost.steps for r in heavy)),
            _fmt(sum(r.cost.train_images for r in heavy)),
            _fmt(sum(r.cost.eval_images for r in heavy)),
            *total,
        )
    )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    out.insert(-1, out[1])
    out += _notes(rows)
    return "\n".join(out)


def _wrap(text: str, indent: str = "") -> list[str]:
    # paths stay whole: no breaks at their hyphens
    return textwrap.wrap(
        text,
        100,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _notes(rows: Sequence[RuleCost]) -> list[str]:
    out = [""]
    out += _wrap(
        f"Hours = (train images + {EVAL_IMAGE_COST:.3g} x eval images) / images per second of "
        "one device: an evaluation image is a forward pass only, ~1/3 of a training image. "
        "Eval images: every evaluation split plus the BatchNorm-recompute batches, per model "
        "evaluated. Light rules (no cost model: figures, summaries, distances, quadratic) "
        "count 0."
    )
    out.append("Throughput entries used:")
    used: dict[tuple[str, int, str], Throughput | None] = {}
    for r in rows:
        used.update(r.used)
    for (model, size, kind), entry in sorted(used.items()):
        what = f"{model} at {size} px on {kind}: "
        if entry is None:
            what += "NO ENTRY (hours unknown: '?'; add one or pass --throughput)"
        else:
            what += f"{entry.images_per_s:,.0f} img/s, {entry.status.upper()}: {entry.source}"
        out += _wrap(what, "  ")
    notes = sorted({f"{r.rule}: {r.cost.note}" for r in rows if r.cost and r.cost.note})
    if notes:
        out.append("Approximations:")
        for note in notes:
            out += _wrap(note, "  ")
    return out


def preview(
    configfiles: Sequence[str | Path],
    targets: Sequence[str],
    *,
    forceall: bool = False,
    directory: str | Path | None = None,
    throughput: Sequence[str | Path] = (),
) -> tuple[list[RuleCost], str]:
    """``lrtraj plan``: the dry run's jobs costed; returns the rows and their rendering."""
    cfg = lrconfig.load(*configfiles)
    experiments = lrconfig.experiments(cfg, base_dir=ROOT)
    table = read_throughput(THROUGHPUT_TABLE)
    for path in throughput:  # later files override earlier ones and the committed table
        table.update(read_throughput(path))
    jobs = dry_run(configfiles, targets, forceall=forceall, directory=directory)
    if not jobs:
        return [], "Nothing to be done: every requested output is present and up to date."
    rows = plan(jobs, experiments, cfg["experiment"], table)
    return rows, render(rows)
