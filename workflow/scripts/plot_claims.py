"""Rule claims_figure: the scorecard as a picture."""

from lrtraj.metrics import read_parquet
from lrtraj.plots.claims import claims_figure
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    card = read_parquet(smk.input[0])
    drawn = claims_figure(card, smk.output.pdf, provenance=ctx.provenance(inputs=smk.input))
    log.info("scorecard drawn:\n%s", drawn.to_string())
