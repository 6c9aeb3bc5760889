"""Rule probe_alignment: a fixed batch's gradient along two side-trips on different batch
streams from one checkpoint (fig7)."""

from lrtraj.compute import resolve_device
from lrtraj.data import load_dataset
from lrtraj.metrics import write_parquet
from lrtraj.probes.alignment import run_alignment
from lrtraj.runtime import job
from lrtraj.train.config import OptimizerConfig, section

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p, a = ctx.params, ctx.params["alignment"]
    df = run_alignment(
        checkpoint_path=smk.input.checkpoint,
        dataset=load_dataset(p["data"]),
        model=p["model"],
        optimizer=section(OptimizerConfig, p["optimizer"], "optimizer"),
        device=resolve_device(p["device"]),
        branch_step=a["branch_step"],
        steps=a["steps"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        data_seeds=a["data_seeds"],
        measure_every=a["measure_every"],
        log_every=smk.config["trajectory"]["log_every"],  # cadence: not a rerun trigger
        **p["batches"],
    )
    write_parquet(df, smk.output[0], ctx.provenance(inputs=smk.input))
