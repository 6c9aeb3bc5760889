"""Rule probe_sweep: the one-step lr sweep at one main-trajectory checkpoint, every batch size."""

from lrtraj.compute import resolve_device
from lrtraj.data import load_dataset
from lrtraj.metrics import write_parquet
from lrtraj.probes.sweep import lr_grid, run_sweep
from lrtraj.runtime import job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx:
    p, sweep = ctx.params, ctx.params["sweep"]
    df = run_sweep(
        checkpoint_path=smk.input.checkpoint,
        checkpoint_step=int(smk.wildcards.ckpt),
        dataset=load_dataset(p["data"]),
        model=p["model"],
        device=resolve_device(p["device"]),
        batch_sizes=sweep["batch_sizes"],
        lrs=lr_grid(sweep["lr_min"], sweep["lr_max"], sweep["num_lrs"]),
        batchnorm=sweep["batchnorm"],
        heldout_batches=sweep["heldout_batches"],
        **p["batches"],
        **p["engine"],
    )
    write_parquet(df, smk.output[0], ctx.provenance(inputs=smk.input))
