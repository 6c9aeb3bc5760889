"""Rule sidetrip_summary: final-step average vs schedule vs baseline, every branch and split."""

from lrtraj.analysis.sidetrips import summarize
from lrtraj.divergence import diverged_runs
from lrtraj.metrics import write_parquet
from lrtraj.plots.tables import write_sidetrip_summary
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    df = summarize(list(smk.input), ctx.params["splits"])
    diverged = [run.line() for run in diverged_runs(smk.input)]
    for line in diverged:
        log.warning(line)
    prov = ctx.provenance(inputs=smk.input)
    write_parquet(df, smk.output.parquet, prov)
    write_sidetrip_summary(df, smk.output.md, prov, diverged)
