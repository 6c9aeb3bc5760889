"""Rule table1: the averaging <-> schedule table with the measured deviation of the identity."""

from lrtraj.equivalence import table1
from lrtraj.metrics import write_parquet
from lrtraj.plots.tables import write_table1
from lrtraj.runtime import job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    e = ctx.params["equivalence"]
    df = table1(
        e["averaging"],
        steps=e["steps"],
        lr=e["lr"],
        momenta=e["momenta"],
        dim=e["dim"],
        seed=e["seed"],
    )
    prov = ctx.provenance()
    write_parquet(df, smk.output.parquet, prov)
    write_table1(df, md=smk.output.md, csv=smk.output.csv, tex=smk.output.tex, provenance=prov)
