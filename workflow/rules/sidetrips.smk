rule sidetrip:
    input:
        checkpoint=lambda w: burn_in_checkpoint(w.branch, w.exp),
    output:
        metrics=sidetrip_metrics("{branch}", "{seed}", "{method}", "{exp}"),
        weights=sidetrip_weights("{branch}", "{seed}", "{method}", "{exp}"),
    log:
        "logs/{exp}/sidetrips/branch{branch}/seed{seed}/{method}.log",
    benchmark:
        "benchmarks/{exp}/sidetrips/branch{branch}/seed{seed}/{method}.tsv"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        run=lambda w: run_params(w.exp),
        sidetrip=sidetrip_params,
        resume=lambda w: (
            f"results/{w.exp}/sidetrips/branch{w.branch}/seed{w.seed}/.{w.method}.resume.pt"
        ),
    script:
        "../scripts/sidetrip.py"


rule sidetrip_summary:
    input:
        lambda w: [
            path
            for branch in EXPERIMENTS[w.exp]["sidetrips"]["branch_steps"]
            for path in sidetrips_of(branch, w.exp)
        ],
    output:
        parquet="results/{exp}/sidetrips/summary.parquet",
        md=report(
            "results/{exp}/sidetrips/summary.md",
            caption="../report/sidetrip_summary.rst",
            category="Side-trips",
        ),
    log:
        "logs/{exp}/sidetrips/summary.log",
    threads: 1
    params:
        splits=["train", "test"],
    script:
        "../scripts/sidetrip_summary.py"


rule sidetrip_distances:
    input:
        lambda w: [
            sidetrip_weights(w.branch, seed, method, w.exp)
            for seed, method in distance_runs(w.exp)
        ],
    output:
        "results/{exp}/sidetrips/branch{branch}/distances.parquet",
    log:
        "logs/{exp}/sidetrips/branch{branch}/distances.log",
    threads: 1
    params:
        runs=lambda w: distance_runs(w.exp),
        families=lambda w: list(EXPERIMENTS[w.exp]["sidetrips"]["averaging"]),
    script:
        "../scripts/sidetrip_distances.py"
