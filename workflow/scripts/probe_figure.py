"""Rules fig2, fig3, fig7, fig12, fig13: draw one probe figure from the probe Parquet."""

from lrtraj.plots import probes as plots
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    name, prov = ctx.params["figure"], ctx.provenance(inputs=smk.input)
    if name == "fig2":
        caption = plots.fig2(
            smk.input.sweep,
            smk.input.burn_in,
            smk.output.pdf,
            **ctx.params["fig2"],
            provenance=prov,
        )
    elif name == "fig12":
        caption = plots.fig12(list(smk.input.sweeps), smk.output.pdf, provenance=prov)
    elif name == "fig13":
        caption = plots.fig13(
            list(smk.input.sweeps), smk.input.burn_in, smk.output.pdf, provenance=prov
        )
    elif name == "fig3":
        caption, bar = plots.fig3(
            smk.input.trajectories, smk.input.interpolation, smk.output.pdf, provenance=prov
        )
        log.info("barriers:\n%s", bar.to_string())
    elif name == "fig7":
        caption = plots.fig7(smk.input[0], smk.output.pdf, provenance=prov)
    else:
        raise ValueError(f"unknown probe figure {name!r}")
    log.info("caption: %s", caption)
