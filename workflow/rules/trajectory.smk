rule burn_in:
    output:
        metrics="results/{exp}/burn_in/metrics.parquet",
        checkpoints=[burn_in_checkpoint(s, "{exp}") for s in CHECKPOINT_STEPS],
    log:
        "logs/{exp}/burn_in.log",
    benchmark:
        "benchmarks/{exp}/burn_in.tsv"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        run=lambda w: run_params(w.exp),
        trajectory=lambda w: trajectory_params(w.exp),
        checkpoint_steps=CHECKPOINT_STEPS,
        state_dir=lambda w: f"results/{w.exp}/burn_in/state",
    script:
        "../scripts/burn_in.py"
