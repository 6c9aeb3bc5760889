"""Rule sidetrip_distances (fig6): average vs schedule endpoints vs independent solutions."""

from lrtraj.metrics import write_parquet
from lrtraj.runtime import job
from lrtraj.twins import sidetrip_distances

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    runs = [tuple(run) for run in ctx.params["runs"]]  # (seed, method), in input order
    weights = dict(zip(runs, smk.input, strict=True))
    df = sidetrip_distances(weights, ctx.params["families"], int(smk.wildcards.branch))
    write_parquet(df, smk.output[0], ctx.provenance(inputs=smk.input))
