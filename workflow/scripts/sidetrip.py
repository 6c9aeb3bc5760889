"""Rule sidetrip: one side-trip method from one branch point on one data seed."""

from lrtraj import distributed
from lrtraj.metrics import write_parquet
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job, preemptible
from lrtraj.sidetrips import SideTrip, run_sidetrip
from lrtraj.train.config import TrainingConfig

smk = snakemake  # noqa: F821 (injected by Snakemake)
ranks = smk.config["distributed"]["ranks"]  # how the job runs, not what: not a rerun trigger
distributed.run_as_ranks(ranks)  # more than one rank and none started: start them here, exit
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
    with distributed.session(ranks, p["run"]["device"]):
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
            # live metrics, a side channel (not a declared output) like the resume state
            tensorboard_dir=f"results/{smk.wildcards.exp}/tensorboard/"
            f"sidetrip_b{trip.branch_step}_s{trip.data_seed}_{trip.method}",
        )
        main = distributed.is_main()
    if main:
        prov = ctx.provenance(inputs=smk.input)
        write_sidecar(smk.output.weights, prov)
        write_parquet(df, smk.output.metrics, prov)
