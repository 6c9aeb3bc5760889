"""Rule quadratic_figure: draw one quadratic-model figure from its experiment's Parquet."""

from lrtraj.plots.quadratic import FIGURES
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    caption = FIGURES[ctx.params["figure"]](
        smk.input[0], smk.output.pdf, ctx.provenance(inputs=smk.input)
    )
    log.info("caption: %s", caption)
