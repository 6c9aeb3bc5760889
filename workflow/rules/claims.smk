# The reproduction scorecard (docs/theory.md §3; method and margins: docs/claims.md): every claim
# as an effect with a 95 % interval over its replicates, judged against a margin.


rule claims:
    input:
        sidetrip_summary=f"{RESULTS}/sidetrips/summary.parquet",
        fig10=[
            f"results/{exp}/sidetrips/summary.parquet"
            for exp in config["figures"]["fig10"]["experiments"]
            if exp != EXP
        ],
        twin_distances=f"{RESULTS}/twins/distances.parquet",
        lemma1=f"{QUADRATIC}/lemma1.parquet",
        burn_in=f"{RESULTS}/burn_in/metrics.parquet",
        probe_sweep=[probe_sweep(step) for step in PROBE_CFG["sweep"]["checkpoints"]],
        probe_interpolation=f"{PROBES}/fixed_batch/interpolation.parquet",
        probe_alignment=f"{PROBES}/alignment.parquet",
        fast_slow=f"{QUADRATIC}/fast_slow.parquet",
    output:
        parquet="results/claims.parquet",
        md=report(
            "results/claims.md",
            caption="../report/claims.rst",
            category="Scorecard",
        ),
    log:
        "logs/claims.log",
    threads: 1
    params:
        experiment=EXP,
        fig10_experiments=[
            exp for exp in config["figures"]["fig10"]["experiments"] if exp != EXP
        ],
        settings=config["claims"],
    script:
        "../scripts/claims.py"


rule claims_figure:
    input:
        "results/claims.parquet",
    output:
        pdf=report(
            f"{FIGURES}/claims.pdf",
            caption="../report/claims_figure.rst",
            category="Scorecard",
        ),
        png=f"{FIGURES}/claims.png",
        json=f"{FIGURES}/claims.json",
    log:
        "logs/claims_figure.log",
    threads: 1
    script:
        "../scripts/plot_claims.py"


rule effective_config:
    output:
        report(
            "results/config.yaml",
            caption="../report/config.rst",
            category="Configuration",
        ),
    log:
        "logs/effective_config.log",
    threads: 1
    params:
        experiments=EXPERIMENTS,
    script:
        "../scripts/effective_config.py"
