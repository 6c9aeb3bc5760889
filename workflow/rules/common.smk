# Config validation and the helpers every rule file uses. Rules take config through `params`
# (only the keys they read), so a config change reruns exactly the jobs that read it.
import os

import lrtraj.config as lrconfig
from lrtraj.sidetrips import sidetrip_methods

lrconfig.validate_schema(config)
lrconfig.check(config)

ENV = os.path.join(workflow.basedir, "environment.yml")
EXP = config["experiment"]
RESULTS = f"results/{EXP}"
FIGURES = "results/figures"
BRANCH_STEPS = config["sidetrips"]["branch_steps"]
DATA_SEEDS = config["sidetrips"]["data_seeds"]
SIDETRIP_METHODS = sidetrip_methods(
    config["sidetrips"]["averaging"], config["sidetrips"]["linear_decay"]
)
# Main-trajectory steps whose checkpoints some rule reads; the burn-in publishes exactly these.
# Each consumer adds its steps here (common.smk is parsed before the burn-in rule).
CHECKPOINT_STEPS = set(BRANCH_STEPS)
# >>> probes
# <<< probes
# >>> twins
# <<< twins
CHECKPOINT_STEPS = sorted(CHECKPOINT_STEPS)
# GPUs per training job come from config, so the CPU default asks for none.
TRAIN_RESOURCES = config.get("resources", {})


wildcard_constraints:
    branch=r"\d+",
    seed=r"\d+",
    method="|".join(SIDETRIP_METHODS),


def burn_in_checkpoint(step):
    """Main-trajectory checkpoint at `step` (must be in CHECKPOINT_STEPS)."""
    return f"{RESULTS}/burn_in/checkpoints/step{step}.pt"


def sidetrip_metrics(branch, seed, method):
    return f"{RESULTS}/sidetrips/branch{branch}/seed{seed}/{method}.parquet"


def sidetrips_of(branch):
    """Every side-trip run branched at `branch` (all seeds, all methods)."""
    return [
        sidetrip_metrics(branch, seed, method)
        for seed in DATA_SEEDS
        for method in SIDETRIP_METHODS
    ]


def run_params():
    """What every training-like job reads: data, model, optimizer, evaluation, device."""
    return {
        key: config[key]
        for key in ("data", "model", "optimizer", "evaluation", "device")
    }


def sidetrip_params(wildcards):
    """Only the keys this side-trip method depends on: a change to EMA's beta reruns the
    constant run (which carries the EMA) and ema_schedule, not the other schedules."""
    trips = config["sidetrips"]
    method = wildcards.method
    averaging = trips["averaging"]
    if method == "constant":
        used = averaging
    elif method.endswith("_schedule"):
        family = method.removesuffix("_schedule")
        used = {family: averaging[family]}
    else:
        used = {}
    return {
        "steps": trips["steps"],
        "lr": trips.get("lr", config["trajectory"]["lr"]),
        "eval_every": trips["eval_every"],
        "checkpoint_every": trips["checkpoint_every"],
        "batch_size": config["trajectory"]["batch_size"],
        "log_every": config["trajectory"]["log_every"],
        "averaging": used,
    }
