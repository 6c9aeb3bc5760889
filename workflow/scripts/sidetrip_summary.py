"""Rule sidetrip_summary: final-step average vs schedule vs baseline, every branch and split."""

from lrtraj.analysis.sidetrips import summarize
from lrtraj.metrics import write_parquet
from lrtraj.plots.tables import write_sidetrip_summary
from lrtraj.runtime import job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    df = summarize(list(smk.input), ctx.params["splits"])
    prov = ctx.provenance(inputs=smk.input)
    write_parquet(df, smk.output.parquet, prov)
    write_sidetrip_summary(df, smk.output.md, prov)
