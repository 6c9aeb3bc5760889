# Twin trajectories (fig8): constant-lr continuations of the main trajectory from an early step
# on other batch orders, their parameters snapshot along the way.


rule twin:
    input:
        checkpoint=lambda w: burn_in_checkpoint(
            EXPERIMENTS[w.exp]["twins"]["branch_step"], w.exp
        ),
    output:
        metrics="results/{exp}/twins/seed{seed}/metrics.parquet",
        snapshots="results/{exp}/twins/seed{seed}/snapshots.pt",
    log:
        "logs/{exp}/twins/seed{seed}.log",
    benchmark:
        "benchmarks/{exp}/twins/seed{seed}.tsv"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        run=lambda w: run_params(w.exp),
        twin=lambda w: twin_params(w.exp),
        resume=lambda w: f"results/{w.exp}/twins/seed{w.seed}/.resume.pt",
    script:
        "../scripts/twin.py"


rule twin_distances:
    input:
        reference=lambda w: twin_snapshots(0, w.exp),
        other=lambda w: twin_snapshots(1, w.exp),
    output:
        "results/{exp}/twins/distances.parquet",
    log:
        "logs/{exp}/twins/distances.log",
    threads: 1
    params:
        seeds=lambda w: EXPERIMENTS[w.exp]["twins"]["data_seeds"],
    script:
        "../scripts/twin_distances.py"
