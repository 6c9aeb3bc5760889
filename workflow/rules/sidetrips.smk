rule sidetrip:
    input:
        checkpoint=lambda w: burn_in_checkpoint(w.branch),
    output:
        sidetrip_metrics("{branch}", "{seed}", "{method}"),
    log:
        f"logs/{EXP}/sidetrips/branch{{branch}}/seed{{seed}}/{{method}}.log",
    benchmark:
        f"benchmarks/{EXP}/sidetrips/branch{{branch}}/seed{{seed}}/{{method}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        run=run_params(),
        sidetrip=sidetrip_params,
        resume=lambda w: f"{RESULTS}/sidetrips/branch{w.branch}/seed{w.seed}/.{w.method}.resume.pt",
    script:
        "../scripts/sidetrip.py"


rule sidetrip_summary:
    input:
        [path for branch in BRANCH_STEPS for path in sidetrips_of(branch)],
    output:
        parquet=f"{RESULTS}/sidetrips/summary.parquet",
        md=report(
            f"{RESULTS}/sidetrips/summary.md",
            caption="../report/sidetrip_summary.rst",
            category="Side-trips",
        ),
    log:
        f"logs/{EXP}/sidetrips/summary.log",
    conda:
        ENV
    threads: 1
    params:
        splits=["train", "test"],
    script:
        "../scripts/sidetrip_summary.py"
