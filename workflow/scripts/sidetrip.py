"""Rule sidetrip: one side-trip method from one branch point on one data seed."""

from lrtraj.metrics import write_parquet
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job, preemptible
from lrtraj.sidetrips import SideTrip, run_sidetrip
from lrtraj.train.config import TrainingConfig

smk = snakemake  # noqa: F821 (injected by Snakemake)
with job(smk) as ctx, preemptible():  # SIGUSR2: checkpoint, exit, resume when rerun
    p, s = ctx.params, ctx.params["sidetrip"]
    trip = SideTrip(
        branch_step=int(smk.wildcards.branch),
        data_seed=int(smk.wildcards.seed),
        method=smk.wildcards.method,
        steps=s["steps"],
        lr=s["lr"],
        eval_every=s["eval_every"],
        averaging=s["averaging"],
    )
    df = run_sidetrip(
        trip,
        TrainingConfig.from_config(p["run"]),
        branch_checkpoint=smk.input.checkpoint,
        batch_size=s["batch_size"],
        resume_path=p["resume"],
        # cadence is read from the config, not params: changing it reruns nothing
        checkpoint_every=smk.config["sidetrips"]["checkpoint_every"],
        log_every=smk.config["trajectory"]["log_every"],
        weights_path=smk.output.weights,
    )
    prov = ctx.provenance(inputs=smk.input)
    write_sidecar(smk.output.weights, prov)
    write_parquet(df, smk.output.metrics, prov)
