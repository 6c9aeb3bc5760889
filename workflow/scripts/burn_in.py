"""Rule burn_in: train the main trajectory, publish the branch-point checkpoints."""

from lrtraj.checkpoint import recorded_sha256
from lrtraj.metrics import write_parquet
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job, preemptible
from lrtraj.trajectory import run_burn_in

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx, preemptible():  # SIGUSR2: checkpoint, exit, resume when rerun
    p = ctx.params
    checkpoints = dict(zip(p["checkpoint_steps"], smk.output.checkpoints, strict=True))
    df = run_burn_in(
        **p["run"], trajectory=p["trajectory"], checkpoints=checkpoints, state_dir=p["state_dir"]
    )
    hashes = {path: recorded_sha256(path) for path in smk.output.checkpoints}
    prov = ctx.provenance(checkpoints=hashes)
    for path in smk.output.checkpoints:
        write_sidecar(path, prov)
    write_parquet(df, smk.output.metrics, prov)
