# lrtraj: burn-in -> side-trips -> probes -> figures (see README.md).
from snakemake.utils import min_version

from lrtraj.config import DEFAULT_CONFIG

min_version("9.10")


# The default config is package data of lrtraj (beside its schema), one file for the workflow
# and an installed `lrtraj check-config`; `--configfile=OVERLAY` merges an overlay (paper
# scale, tests) on top of it. An absolute path: the workflow also runs with --directory elsewhere.
configfile: str(DEFAULT_CONFIG)


include: "workflow/rules/common.smk"
include: "workflow/rules/trajectory.smk"
include: "workflow/rules/sidetrips.smk"
include: "workflow/rules/twins.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/quadratic.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/cluster.smk"


# This config's own experiment: its figures and scorecard (results/figures/, results/claims.md)
# and what is built once (fig10, table1, the quadratic model, the effective config).
rule all:
    input:
        experiment_targets(EXP),
        SHARED_TARGETS,


# ... and the same figures and scorecard of every variant, from its own runs and config
# section, under results/<variant>/ (figures in results/<variant>/figures/).
rule all_experiments:
    input:
        rules.all.input,
        [experiment_targets(exp) for exp in EXPERIMENTS if exp != EXP],
