rule burn_in:
    output:
        metrics=f"{RESULTS}/burn_in/metrics.parquet",
        checkpoints=[burn_in_checkpoint(s) for s in CHECKPOINT_STEPS],
    log:
        f"logs/{EXP}/burn_in.log",
    benchmark:
        f"benchmarks/{EXP}/burn_in.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        run=run_params(),
        trajectory=config["trajectory"],
        checkpoint_steps=CHECKPOINT_STEPS,
        state_dir=f"{RESULTS}/burn_in/state",
    script:
        "../scripts/burn_in.py"
