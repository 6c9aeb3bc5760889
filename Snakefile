# lrtraj: burn-in -> side-trips -> probes -> figures (see README.md).
from snakemake.utils import min_version

min_version("9.10")


# The default config sits beside this file, so the workflow also runs with --directory elsewhere;
# `--configfile=OVERLAY` merges an overlay (paper scale, tests) on top of it.
configfile: f"{workflow.basedir}/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/trajectory.smk"
include: "workflow/rules/sidetrips.smk"
include: "workflow/rules/twins.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/quadratic.smk"
include: "workflow/rules/claims.smk"


rule all:
    input:
        FIGURE_TARGETS,
        PROBE_TARGETS,
        QUADRATIC_TARGETS,
        "results/claims.md",
        "results/figures/claims.pdf",
        "results/config.yaml",
