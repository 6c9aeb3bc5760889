# Probes of the loss landscape (fig2, fig3, fig7, fig12, fig13): one sweep job per checkpoint (all
# batch sizes), one job for the fixed-batch GD side-trips + interpolation, one for gradient
# alignment, one plot job per figure. Schemas: src/lrtraj/probes/__init__.py. Each job's params
# are only the keys it reads (helpers `probe_params`, `probe_sweep` and the main-trajectory steps
# the probes need, added to CHECKPOINT_STEPS so the burn-in publishes them, live in common.smk).
PROBE_TARGETS = [f"{FIGURES}/fig{n}.pdf" for n in (2, 3, 7, 12, 13)]


rule probe_sweep:
    input:
        checkpoint=lambda w: burn_in_checkpoint(int(w.ckpt)),
    output:
        probe_sweep("{ckpt}"),
    log:
        f"logs/{EXP}/probes/sweep_step{{ckpt}}.log",
    benchmark:
        f"benchmarks/{EXP}/probes/sweep_step{{ckpt}}.tsv"
    wildcard_constraints:
        ckpt=r"\d+",
    threads: TRAIN_THREADS
    resources:
        **TRAIN_RESOURCES,
    params:
        **probe_params(),
        # the checkpoint list itself is not read here: adding a step runs only its job
        code=code_of("probe_sweep.py"),
        sweep={k: v for k, v in PROBE_CFG["sweep"].items() if k != "checkpoints"},
    script:
        "../scripts/probe_sweep.py"


rule probe_fixed_batch:
    input:
        checkpoints=[
            burn_in_checkpoint(s) for s in PROBE_CFG["fixed_batch"]["branch_steps"]
        ],
    output:
        trajectories=f"{PROBES}/fixed_batch/trajectories.parquet",
        interpolation=f"{PROBES}/fixed_batch/interpolation.parquet",
    log:
        f"logs/{EXP}/probes/fixed_batch.log",
    benchmark:
        f"benchmarks/{EXP}/probes/fixed_batch.tsv"
    threads: TRAIN_THREADS
    resources:
        **TRAIN_RESOURCES,
    params:
        **probe_params("fixed_batch"),
        code=code_of("probe_fixed_batch.py"),
    script:
        "../scripts/probe_fixed_batch.py"


rule probe_alignment:
    input:
        checkpoint=burn_in_checkpoint(PROBE_CFG["alignment"]["branch_step"]),
    output:
        f"{PROBES}/alignment.parquet",
    log:
        f"logs/{EXP}/probes/alignment.log",
    benchmark:
        f"benchmarks/{EXP}/probes/alignment.tsv"
    threads: TRAIN_THREADS
    resources:
        **TRAIN_RESOURCES,
    params:
        **probe_params("alignment"),
        code=code_of("probe_alignment.py"),
        optimizer=config["optimizer"],
        lr=PROBE_CFG["alignment"].get(
            "lr", config["sidetrips"].get("lr", config["trajectory"]["lr"])
        ),
        batch_size=config["trajectory"]["batch_size"],
    script:
        "../scripts/probe_alignment.py"


rule fig2:
    input:
        sweep=probe_sweep(PROBE_CFG["fig2"]["checkpoint"]),
        burn_in=f"{RESULTS}/burn_in/metrics.parquet",
    output:
        pdf=report(
            f"{FIGURES}/fig2.pdf",
            caption="../report/fig2.rst",
            category="Loss landscape",
        ),
        png=f"{FIGURES}/fig2.png",
        sidecar=f"{FIGURES}/fig2.json",
    log:
        "logs/figures/fig2.log",
    benchmark:
        "benchmarks/figures/fig2.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig2",
        settings=PROBE_CFG["fig2"],
    script:
        "../scripts/probe_figure.py"


rule fig12:
    input:
        sweeps=[probe_sweep(s) for s in PROBE_CFG["sweep"]["checkpoints"]],
    output:
        pdf=report(
            f"{FIGURES}/fig12.pdf",
            caption="../report/fig12.rst",
            category="Loss landscape",
        ),
        png=f"{FIGURES}/fig12.png",
        sidecar=f"{FIGURES}/fig12.json",
    log:
        "logs/figures/fig12.log",
    benchmark:
        "benchmarks/figures/fig12.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig12",
    script:
        "../scripts/probe_figure.py"


rule fig13:
    input:
        sweeps=[probe_sweep(s) for s in PROBE_CFG["sweep"]["checkpoints"]],
        burn_in=f"{RESULTS}/burn_in/metrics.parquet",
    output:
        pdf=report(
            f"{FIGURES}/fig13.pdf",
            caption="../report/fig13.rst",
            category="Loss landscape",
        ),
        png=f"{FIGURES}/fig13.png",
        sidecar=f"{FIGURES}/fig13.json",
    log:
        "logs/figures/fig13.log",
    benchmark:
        "benchmarks/figures/fig13.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig13",
    script:
        "../scripts/probe_figure.py"


rule fig3:
    input:
        trajectories=rules.probe_fixed_batch.output.trajectories,
        interpolation=rules.probe_fixed_batch.output.interpolation,
    output:
        pdf=report(
            f"{FIGURES}/fig3.pdf",
            caption="../report/fig3.rst",
            category="Loss landscape",
        ),
        png=f"{FIGURES}/fig3.png",
        sidecar=f"{FIGURES}/fig3.json",
    log:
        "logs/figures/fig3.log",
    benchmark:
        "benchmarks/figures/fig3.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig3",
    script:
        "../scripts/probe_figure.py"


rule fig7:
    input:
        alignment=rules.probe_alignment.output[0],
    output:
        pdf=report(
            f"{FIGURES}/fig7.pdf",
            caption="../report/fig7.rst",
            category="Loss landscape",
        ),
        png=f"{FIGURES}/fig7.png",
        sidecar=f"{FIGURES}/fig7.json",
    log:
        "logs/figures/fig7.log",
    benchmark:
        "benchmarks/figures/fig7.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig7",
    script:
        "../scripts/probe_figure.py"
