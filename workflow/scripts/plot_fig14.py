"""Rule fig14: schedule vs averaging, loss and accuracy, train and test."""

from lrtraj.plots.sidetrips import fig14
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    summary = fig14(
        list(smk.input),
        smk.output.pdf,
        families=ctx.params["families"],
        provenance=ctx.provenance(inputs=smk.input),
    )
    log.info("final-step comparison:\n%s", summary.to_string())
