"""Rules fig2, fig3, fig7, fig12, fig13: draw one probe figure from the probe Parquet."""

from lrtraj.plots.probes import FIGURES
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    name = ctx.params["figure"]
    drawn = FIGURES[name](
        dict(smk.input.items()),
        smk.output.pdf,
        ctx.provenance(inputs=smk.input),
        ctx.params.get("settings", {}),
    )
    log.info("%s: %s", name, drawn)
