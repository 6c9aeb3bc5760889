"""Rule twin_distances (fig8): distance from twin A's endpoint to each snapshot of twin B."""

from lrtraj.metrics import write_parquet
from lrtraj.runtime import job
from lrtraj.twins import twin_distances

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    seed_a, seed_b = ctx.params["seeds"]
    df = twin_distances(smk.input.reference, smk.input.other)
    df.insert(1, "reference_seed", seed_a)
    df.insert(2, "data_seed", seed_b)
    write_parquet(df, smk.output[0], ctx.provenance(inputs=smk.input))
