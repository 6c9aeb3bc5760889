"""Rule quadratic_simulate: run one quadratic-model experiment (Monte Carlo + exact theory)."""

from lrtraj.metrics import write_parquet
from lrtraj.quadratic.experiments import run_experiment
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p = ctx.params
    df = run_experiment(p["experiment"], int(p["seed"]), int(p["chains"]), dict(p["settings"]))
    log.info("%s: %d rows", p["experiment"], len(df))
    write_parquet(df, smk.output[0], ctx.provenance(inputs=smk.input))
