"""Rule fig6: an average vs its schedule: loss curves and weight-space distances."""

from lrtraj.plots.sidetrips import fig6
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    fig = ctx.params["figure"]
    distances = fig6(
        list(smk.input.metrics),
        smk.input.distances,
        smk.output.pdf,
        split=fig["split"],
        family=fig["family"],
        provenance=ctx.provenance(inputs=smk.input),
    )
    log.info("distances:\n%s", distances.to_string())
