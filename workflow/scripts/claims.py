"""Rule claims: the scorecard of the paper's claims, from the Parquet metrics."""

from lrtraj.analysis.claims import claims_table, scorecard, write_markdown
from lrtraj.analysis.probe_claims import probe_claims
from lrtraj.metrics import write_parquet
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p = ctx.params
    single = (
        "sidetrip_summary",
        "twin_distances",
        "lemma1",
        "fast_slow",
        "burn_in",
        "probe_interpolation",
        "probe_alignment",
    )
    inputs = {key: [str(smk.input[key])] for key in single}
    inputs["probe_sweep"] = [str(path) for path in smk.input.probe_sweep]
    fig10 = dict(zip(p["fig10_experiments"], smk.input.fig10, strict=True))
    settings = {**p["settings"], "experiment": p["experiment"]}
    card = scorecard(inputs, settings, fig10=fig10, probe_claims=probe_claims)
    prov = ctx.provenance(inputs=smk.input)
    write_parquet(card, smk.output.parquet, prov)
    write_markdown(card, smk.output.md, prov)
    table = claims_table(card)[["claim", "n", "effect", "low", "high", "rule", "margin", "verdict"]]
    log.info("scorecard:\n%s", table.to_string())
