"""Rule probe_fixed_batch: GD side-trips on one fixed batch from several checkpoints, then the
linear interpolations between their ends and back to their branch points (fig3)."""

from lrtraj.analysis.probes import barriers
from lrtraj.compute import resolve_device
from lrtraj.data import load_dataset
from lrtraj.metrics import write_parquet
from lrtraj.probes.fixed_batch import run_fixed_batch
from lrtraj.runtime import job, log

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p, gd = ctx.params, ctx.params["fixed_batch"]
    trajectories, interpolation = run_fixed_batch(
        checkpoints=dict(zip(gd["branch_steps"], smk.input.checkpoints, strict=True)),
        dataset=load_dataset(p["data"]),
        model=p["model"],
        device=resolve_device(p["device"]),
        batch_size=gd["batch_size"],
        lr=gd["lr"],
        steps=gd["steps"],
        record_every=gd["record_every"],
        interpolation_points=gd["interpolation_points"],
        **p["batches"],
        **p["engine"],
    )
    prov = ctx.provenance(inputs=smk.input)
    write_parquet(trajectories, smk.output.trajectories, prov)
    write_parquet(interpolation, smk.output.interpolation, prov)
    log.info("barriers:\n%s", barriers(interpolation).to_string())
