"""Rule fig8: distance from one twin's endpoint to each point of the other."""

from lrtraj.plots.twins import fig8
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    stats = fig8(smk.input[0], smk.output.pdf, provenance=ctx.provenance(inputs=smk.input))
    log.info("distance summary:\n%s", stats.to_string())
