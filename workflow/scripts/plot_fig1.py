"""Rule fig1: one averaging method next to its equivalent schedule and the baseline."""

from lrtraj.plots.sidetrips import fig1
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    fig = ctx.params["figure"]
    cmp = fig1(
        list(smk.input),
        smk.output.pdf,
        split=fig["split"],
        family=fig["family"],
        provenance=ctx.provenance(inputs=smk.input),
    )
    log.info("final-step comparison:\n%s", cmp.to_string())
