# The reproduction scorecard (docs/theory.md §3; method and margins: docs/claims.md): every claim
# as an effect with a 95 % interval over its replicates, judged against a margin.
# Every experiment gets its own scorecard from its own runs, probes and `claims` section
# (results/{expdir}claims.md, beside its figures); the quadratic model's claims are shared, and
# only this config's own scorecard adds the other fig10 experiments' two-point claims (4b, ...),
# as fig10 is drawn once.
PER_EXPERIMENT.append("claims.pdf")
SHARED_TARGETS.append("results/config.yaml")


rule claims:
    input:
        sidetrip_summary=lambda w: f"results/{exp_of(w)}/sidetrips/summary.parquet",
        fig10=lambda w: [
            f"results/{exp}/sidetrips/summary.parquet"
            for exp in fig10_others(exp_of(w))
        ],
        twin_distances=lambda w: f"results/{exp_of(w)}/twins/distances.parquet",
        lemma1=f"{QUADRATIC}/lemma1.parquet",
        burn_in=lambda w: f"results/{exp_of(w)}/burn_in/metrics.parquet",
        probe_sweep=lambda w: probe_sweeps(exp_of(w)),
        probe_interpolation=lambda w: (
            f"{probe_dir(exp_of(w))}/fixed_batch/interpolation.parquet"
        ),
        probe_alignment=lambda w: f"{probe_dir(exp_of(w))}/alignment.parquet",
        fast_slow=f"{QUADRATIC}/fast_slow.parquet",
    output:
        parquet="results/{expdir}claims.parquet",
        md=report(
            "results/{expdir}claims.md",
            caption="../report/claims.rst",
            category="Scorecard",
        ),
    log:
        "logs/{expdir}claims.log",
    threads: 1
    params:
        code=code_of("claims.py"),
        experiment=exp_of,
        fig10_experiments=lambda w: fig10_others(exp_of(w)),
        settings=section("claims"),
    script:
        "../scripts/claims.py"


rule claims_figure:
    input:
        "results/{expdir}claims.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/claims.pdf",
            caption="../report/claims_figure.rst",
            category="Scorecard",
        ),
        png=f"{EXP_FIGURES}/claims.png",
        sidecar=f"{EXP_FIGURES}/claims.json",
        caption=f"{EXP_FIGURES}/claims.caption.rst",
    log:
        "logs/{expdir}claims_figure.log",
    threads: 1
    params:
        code=code_of("plot_claims.py"),
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
        code=code_of("effective_config.py"),
        experiments=EXPERIMENTS,
    script:
        "../scripts/effective_config.py"
