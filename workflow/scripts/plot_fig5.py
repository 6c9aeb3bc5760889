"""Rule fig5: averages vs equivalent schedules vs constant lr, side-trips from one checkpoint."""

from lrtraj.plots.sidetrips import fig5
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    fig = ctx.params["figure"]
    cmp = fig5(
        list(smk.input),
        smk.output.pdf,
        split=fig["split"],
        families=list(ctx.params["averaging"]),
        provenance=ctx.provenance(inputs=smk.input),
    )
    log.info("final-step comparison:\n%s", cmp.to_string())
