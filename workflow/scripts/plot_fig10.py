"""Rule fig10: one averaging method vs its schedule vs constant lr, in several experiments."""

from lrtraj.plots.sidetrips import fig10
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    fig = ctx.params["figure"]
    summary = fig10(
        ctx.params["inputs"],
        smk.output.pdf,
        split=fig["split"],
        family=fig["family"],
        provenance=ctx.provenance(inputs=smk.input),
    )
    log.info("final-step comparison:\n%s", summary.to_string())
