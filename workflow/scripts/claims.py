"""Rule claims: the scorecard of the paper's claims, from the Parquet metrics."""

from lrtraj.claims import scorecard, write_markdown
from lrtraj.metrics import write_parquet
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p = ctx.params
    inputs = {
        key: [str(smk.input[key])]
        for key in ("sidetrip_summary", "twin_distances", "lemma1", "fast_slow")
    }
    fig10 = dict(zip(p["fig10_experiments"], smk.input.fig10, strict=True))
    card = scorecard(inputs, {**p["settings"], "experiment": p["experiment"]}, fig10=fig10)
    prov = ctx.provenance(inputs=smk.input)
    write_parquet(card, smk.output.parquet, prov)
    write_markdown(card, smk.output.md, prov)
    log.info("scorecard:\n%s", card[["claim", "measured", "status"]].to_string())
