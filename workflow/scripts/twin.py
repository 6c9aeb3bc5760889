"""Rule twin: a constant-lr continuation of the main trajectory, parameters snapshot on the way."""

from lrtraj import distributed
from lrtraj.metrics import write_parquet
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job, preemptible
from lrtraj.sidetrips import SideTrip, Snapshots, run_sidetrip
from lrtraj.train.config import TrainingConfig
from lrtraj.twins import eval_every

smk = snakemake  # noqa: F821 (injected by Snakemake)
ranks = smk.config["distributed"]["ranks"]  # how the job runs, not what: not a rerun trigger
distributed.run_as_ranks(ranks)  # more than one rank and none started: start them here, exit
with job(smk) as ctx, preemptible():  # SIGUSR2: checkpoint, exit, resume when rerun
    p, t = ctx.params, ctx.params["twin"]
    trip = SideTrip(
        branch_step=t["branch_step"],
        data_seed=int(smk.wildcards.seed),
        method="constant",
        steps=t["steps"],
        lr=t["lr"],
        eval_every=eval_every(t["steps"]),
        phase="twin",
    )
    snapshots = Snapshots(start=t["branch_step"], every=t["snapshot_every"])
    with distributed.session(ranks, p["run"]["device"]):
        df = run_sidetrip(
            trip,
            TrainingConfig.from_config(p["run"]),
            branch_checkpoint=smk.input.checkpoint,
            batch_size=t["batch_size"],
            resume_path=p["resume"],
            # cadence is read from the config, not params: changing it reruns nothing
            checkpoint_every=smk.config["sidetrips"]["checkpoint_every"],
            log_every=smk.config["trajectory"]["log_every"],
            snapshots=snapshots,
            # live metrics, a side channel (not a declared output) like the resume state
            tensorboard_dir=f"results/{smk.wildcards.exp}/tensorboard/twin_s{trip.data_seed}",
        )
        main = distributed.is_main()
    if main:  # rank 0's snapshots: the loop calls the other ranks' callbacks never
        snapshots.save(smk.output.snapshots)
        prov = ctx.provenance(inputs=smk.input)
        write_sidecar(smk.output.snapshots, prov)
        write_parquet(df, smk.output.metrics, prov)
