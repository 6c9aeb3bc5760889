"""Rule burn_in: train the main trajectory, publish the branch-point checkpoints."""

from lrtraj import distributed
from lrtraj.checkpoint import recorded_sha256
from lrtraj.metrics import write_parquet
from lrtraj.provenance import write_sidecar
from lrtraj.runtime import job, preemptible
from lrtraj.train.config import TrainingConfig
from lrtraj.trajectory import TrajectoryConfig, run_burn_in

smk = snakemake  # noqa: F821 (injected by Snakemake)
ranks = smk.config["distributed"]["ranks"]  # how the job runs, not what: not a rerun trigger
distributed.run_as_ranks(ranks)  # more than one rank and none started: start them here, exit
with job(smk) as ctx, preemptible():  # SIGUSR2: checkpoint, exit, resume when rerun
    p = ctx.params
    checkpoints = dict(zip(p["checkpoint_steps"], smk.output.checkpoints, strict=True))
    traj = smk.config["trajectory"]  # cadence is read from the config: not a rerun trigger
    with distributed.session(ranks, p["run"]["device"]):
        df = run_burn_in(
            TrainingConfig.from_config(p["run"]),
            TrajectoryConfig.from_config(p["trajectory"]),
            checkpoints=checkpoints,
            state_dir=p["state_dir"],
            checkpoint_every=traj["checkpoint_every"],
            log_every=traj["log_every"],
            # live metrics, a side channel (not a declared output) like the resume state
            tensorboard_dir=f"results/{smk.wildcards.exp}/tensorboard/burn_in",
        )
        main = distributed.is_main()
    if main:
        hashes = {path: recorded_sha256(path) for path in smk.output.checkpoints}
        prov = ctx.provenance(checkpoints=hashes)
        for path in smk.output.checkpoints:
            write_sidecar(path, prov)
        write_parquet(df, smk.output.metrics, prov)
