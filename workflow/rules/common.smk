# Config validation and the helpers every rule file uses. Rules take config through `params`
# (only the keys they read), so a config change reruns exactly the jobs that read it.
import re
import time

import lrtraj.config as lrconfig
from lrtraj.schedules import family_of, kind_of, schedule_method, sidetrip_methods

# Snakemake's loader takes repeated keys silently
lrconfig.check_yaml_files(workflow.configfiles)
lrconfig.validate_schema(config)
lrconfig.check(config)
# Named experiments: this config's own and one per `variants` entry (an overlay on it), each
# with its own results/<experiment>/ tree; rules take the experiment as the {exp} wildcard.
EXPERIMENTS = lrconfig.experiments(config, base_dir=workflow.basedir)
# Parsed before the executor is known; Snakemake keeps --jobs (nodes) only for a cluster one,
# and a dry run runs no job (plans for a GPU cluster are made on login nodes)
_dryrun = workflow.output_settings is not None and workflow.output_settings.dryrun
_local = workflow.resource_settings.nodes is None and not _dryrun
for _problem in lrconfig.check_device(EXPERIMENTS, _local):
    logger.warning(f"warning: {_problem}")

EXP = config["experiment"]
STARTED = time.time()  # end-of-run reports name what this run wrote
RESULTS = f"results/{EXP}"


# Where an experiment's figures and scorecard go: its {expdir} wildcard, "" for this config's own
# experiment (results/figures/, results/claims.md: the paths users and docs know) and
# "<variant>/" for a variant (results/<variant>/figures/, results/<variant>/claims.md). Its runs
# and probes stay under results/<experiment>/ ({exp}) either way.
def expdir(exp):
    return "" if exp == EXP else f"{exp}/"


EXPDIRS = {expdir(exp): exp for exp in EXPERIMENTS}


def figures_dir(exp=EXP):
    return f"results/{expdir(exp)}figures"


FIGURES = figures_dir()  # also the home of the figures no single experiment owns
# A variant named like an entry of results/ would mix its tree with the shared one
_reserved = {"figures", "quadratic", "claims.md", "claims.parquet", "config.yaml"}
if _reserved & set(EXPERIMENTS):
    raise lrconfig.ConfigError(
        f"variants: {sorted(_reserved & set(EXPERIMENTS))} name an entry of results/ "
        f"shared by every experiment ({sorted(_reserved)}); rename the variant"
    )
# >>> probes
from lrtraj.probes import checkpoint_steps as probe_checkpoint_steps


def probe_dir(exp=EXP):
    return f"results/{exp}/probes"


def probe_sweep(step, exp=EXP):
    """One-step sweep Parquet of main-trajectory checkpoint `step` (all batch sizes)."""
    return f"{probe_dir(exp)}/sweep/step{step}.parquet"


def probe_sweeps(exp=EXP):
    """Every sweep of experiment `exp` (fig12, fig13, the scorecard)."""
    return [
        probe_sweep(s, exp) for s in EXPERIMENTS[exp]["probes"]["sweep"]["checkpoints"]
    ]


def probe_params(*sections):
    """What a probe job reads, as params functions of its {exp}: data, model, device, where its
    batches come from, how losses along a line are evaluated, and the named `probes` sections.
    """

    def of(exp):
        cfg = EXPERIMENTS[exp]
        probes = cfg["probes"]
        return {
            **{key: cfg[key] for key in ("data", "model", "device")},
            "batches": {key: probes[key] for key in ("batch_seed", "heldout_seed")},
            "engine": {key: probes[key] for key in ("method", "chunk_images")},
            **{section: probes[section] for section in sections},
        }

    return {key: (lambda w, key=key: of(w.exp)[key]) for key in of(EXP)}


def alignment_lr(exp):
    """fig7's side-trips' lr: probes.alignment.lr, else sidetrips.lr, else trajectory.lr."""
    cfg = EXPERIMENTS[exp]
    trips_lr = cfg["sidetrips"].get("lr", cfg["trajectory"]["lr"])
    return cfg["probes"]["alignment"].get("lr", trips_lr)


# <<< probes
# Main-trajectory steps whose checkpoints some rule of some experiment reads (side-trips, probes,
# twins); every experiment's burn-in publishes exactly these (common.smk is parsed before the
# burn-in rule).
CHECKPOINT_STEPS = sorted(
    {
        step
        for c in EXPERIMENTS.values()
        for step in (
            *c["sidetrips"]["branch_steps"],
            *probe_checkpoint_steps(c["probes"]),
            c["twins"]["branch_step"],
        )
    }
)
lrconfig.check_checkpoint_steps(EXPERIMENTS, CHECKPOINT_STEPS)
# GPUs per training job come from config, so the CPU default asks for none; its CPUs
# (cpus_per_task) are also its threads, hence torch's threads (lrtraj.runtime.job). A job of
# several data-parallel ranks asks for a task per rank (cpus_per_task each; on SLURM its ranks
# run as a job step of them, lrtraj.distributed); resources.tasks: 1 keeps them in one task.
RANKS = config["distributed"]["ranks"]
TRAIN_RESOURCES = {
    "cpus_per_task": 1,
    **({"tasks": RANKS} if RANKS > 1 else {}),
    **config.get("resources", {}),
}
TRAIN_THREADS = int(TRAIN_RESOURCES["cpus_per_task"])
# A probe runs as one process whatever distributed.ranks says: one task, one GPU of the ranks'.
PROBE_RESOURCES = {k: v for k, v in TRAIN_RESOURCES.items() if k != "tasks"} | {
    k: 1 for k in ("gpu", "gpus") if TRAIN_RESOURCES.get(k)
}


wildcard_constraints:
    exp="|".join(re.escape(name) for name in EXPERIMENTS),
    expdir="|".join(re.escape(d) for d in EXPDIRS),
    branch=r"\d+",
    seed=r"\d+",
    method="|".join(
        {
            method
            for c in EXPERIMENTS.values()
            for method in sidetrip_methods(
                c["sidetrips"]["averaging"], c["sidetrips"]["linear_decay"]
            )
        }
    ),


def burn_in_checkpoint(step, exp=EXP):
    """Main-trajectory checkpoint at `step` (must be in CHECKPOINT_STEPS)."""
    return f"results/{exp}/burn_in/checkpoints/step{step}.pt"


def sidetrip_metrics(branch, seed, method, exp=EXP):
    return f"results/{exp}/sidetrips/branch{branch}/seed{seed}/{method}.parquet"


def sidetrip_weights(branch, seed, method, exp=EXP):
    """Final weights of a side-trip run (and, for `constant`, of its averages)."""
    return f"results/{exp}/sidetrips/branch{branch}/seed{seed}/{method}.weights.pt"


def sidetrips_of(branch, exp=EXP, methods=None, kind=sidetrip_metrics):
    """Side-trip runs branched at `branch` (all seeds; all methods unless `methods` given)."""
    trips = EXPERIMENTS[exp]["sidetrips"]
    if methods is None:
        methods = sidetrip_methods(trips["averaging"], trips["linear_decay"])
    return [
        kind(branch, seed, method, exp)
        for seed in trips["data_seeds"]
        for method in methods
    ]


def distance_runs(exp=EXP):
    """(seed, method) of the side-trip weights fig6 compares: constant runs and schedules."""
    trips = EXPERIMENTS[exp]["sidetrips"]
    methods = ["constant"] + [schedule_method(family) for family in trips["averaging"]]
    return [[seed, method] for seed in trips["data_seeds"] for method in methods]


def fig10_inputs(exp):
    """The side-trips fig10 reads from one experiment: baseline and the family's schedule."""
    fig = config["figures"]["fig10"]
    methods = ["constant", schedule_method(fig["family"])]
    return sidetrips_of(fig["branch_step"], exp, methods=methods)


def exp_of(wildcards):
    """The experiment of a job: its {exp}, or the experiment of its {expdir}."""
    if hasattr(wildcards, "exp"):
        return wildcards.exp
    return EXPDIRS[wildcards.expdir]


def cfg_of(wildcards):
    """The config of a job's experiment (the validated config, or a variant's)."""
    return EXPERIMENTS[exp_of(wildcards)]


def section(*keys):
    """A params function: the job's experiment's config at `keys`, so a variant's job reads
    (and reruns on) its own config."""

    def get(wildcards):
        value = cfg_of(wildcards)
        for key in keys:
            value = value[key]
        return value

    return get


# An experiment's figures as a rule's output pattern: figures_dir(exp) for each experiment
EXP_FIGURES = "results/{expdir}figures"
# What every experiment gets from its own runs and config section (its figures directory's
# files: figures.smk, probes.smk, claims.smk add theirs) and what is built once, from no single
# experiment's runs (fig10 compares experiments, table1 and the quadratic model use none).
PER_EXPERIMENT = []
SHARED_TARGETS = []


def experiment_targets(exp):
    """Experiment `exp`'s figures, its side-trip summary and its scorecard."""
    return [
        *(f"{figures_dir(exp)}/{name}" for name in PER_EXPERIMENT),
        f"results/{exp}/sidetrips/summary.md",
        f"results/{expdir(exp)}claims.md",
    ]


def figure_sidetrips(figure, family=False):
    """Input function: the side-trips `figure` of the job's experiment shows, at its branch
    step: every method, or (`family`) the constant-lr baseline and its family's schedule.
    """

    def inputs(wildcards):
        fig = cfg_of(wildcards)["figures"][figure]
        methods = ["constant", schedule_method(fig["family"])] if family else None
        return sidetrips_of(fig["branch_step"], exp_of(wildcards), methods=methods)

    return inputs


def fig10_others(exp):
    """The other experiments whose fig10 claim (4b, ...) the scorecard of `exp` adds: fig10 is
    drawn once, for this config's experiment, so a variant's scorecard adds none."""
    if exp != EXP:
        return []
    return [e for e in config["figures"]["fig10"]["experiments"] if e != EXP]


def run_params(exp=EXP):
    """What every training-like job reads: data, model, optimizer, evaluation, device and
    its fast paths (compute)."""
    return lrconfig.training_sections(EXPERIMENTS[exp])


def sidetrip_params(wildcards):
    """Only the keys this side-trip method depends on: a change to EMA's beta reruns the
    constant run (which carries the EMA) and ema_schedule, not the other schedules."""
    cfg = EXPERIMENTS[wildcards.exp]
    trips = cfg["sidetrips"]
    method = wildcards.method
    averaging = trips["averaging"]
    if method == "constant":
        used = averaging
    elif kind_of(method) == "schedule":
        used = {family_of(method): averaging[family_of(method)]}
    else:
        used = {}
    return {
        "steps": trips["steps"],
        "lr": trips.get("lr", cfg["trajectory"]["lr"]),
        "eval_every": trips["eval_every"],
        "batch_size": cfg["trajectory"]["batch_size"],
        "averaging": used,
    }


def twin_snapshots(which, exp=EXP):
    """Snapshots of twin A (`which`=0, the reference endpoint) or B (1)."""
    seed = EXPERIMENTS[exp]["twins"]["data_seeds"][which]
    return f"results/{exp}/twins/seed{seed}/snapshots.pt"


def twin_params(exp=EXP):
    """What a twin trajectory reads (fig8): the twins section and the main trajectory's lr
    and batch size."""
    cfg = EXPERIMENTS[exp]
    traj = cfg["trajectory"]
    return {**cfg["twins"], "lr": traj["lr"], "batch_size": traj["batch_size"]}


def trajectory_params(exp=EXP):
    """The burn-in's trajectory section without its logging and checkpoint cadence: those
    do not change what it computes, so the job reads them from the config (no rerun)."""
    traj = EXPERIMENTS[exp]["trajectory"]
    return {k: v for k, v in traj.items() if k not in ("log_every", "checkpoint_every")}


# >>> code: what each rule's `code` param holds (rules pass code_of(their script))
from lrtraj import codehash


def code_of(script):
    """A digest of each lrtraj module that workflow/scripts/`script` imports, directly or not
    (lrtraj.codehash), for the `code` param of the rules running it. Editing a module reruns
    the rules that run it (a params change), and `lrtraj audit` names artifacts built from
    other code as stale; comments and docstrings do not count."""
    return codehash.modules(f"{workflow.basedir}/workflow/scripts/{script}")


# <<< code


def report_divergence(failed=False):
    """One line per diverged run in the Snakemake log at the end of a run: a diverged
    side-trip's job succeeds (its rows are data), so its warning would sit in one job log.
    After a success, every diverged side-trip on disk (what the figures show); after a
    failure, those this run wrote, and a diverged burn-in's message.
    """
    from lrtraj.divergence import burn_in_failures, diverged_runs

    trips = [
        path
        for exp, cfg in EXPERIMENTS.items()
        for branch in cfg["sidetrips"]["branch_steps"]
        for path in sidetrips_of(branch, exp)
    ]
    lines = [
        run.line() for run in diverged_runs(trips, since=STARTED if failed else None)
    ]
    if failed:  # the burn-in fails on divergence: its message is in its rule log
        logs = [f"logs/{exp}/burn_in.log" for exp in EXPERIMENTS]
        lines += burn_in_failures(logs, since=STARTED)
    if lines:
        logger.warning(f"{len(lines)} training run(s) diverged:")
    for line in lines:
        logger.warning(line)


onsuccess:
    report_divergence()


onerror:
    report_divergence(failed=True)
