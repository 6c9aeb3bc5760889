# Probes of the loss landscape (fig2, fig3, fig7, fig12, fig13), for every experiment from its own
# burn-in and `probes` section: one sweep job per checkpoint (all batch sizes), one job for the
# fixed-batch GD side-trips + interpolation, one for gradient alignment, Parquet under
# results/<exp>/probes/ (schemas: src/lrtraj/probes/__init__.py), one plot job per figure into the
# experiment's figures_dir. Each job's params are only the keys it reads (helpers `probe_params`,
# `probe_sweep`, and the main-trajectory steps the probes need, which the burn-in publishes, live
# in common.smk).
PER_EXPERIMENT += [f"fig{n}.pdf" for n in (2, 3, 7, 12, 13)]


rule probe_sweep:
    input:
        checkpoint=lambda w: burn_in_checkpoint(int(w.ckpt), w.exp),
    output:
        probe_sweep("{ckpt}", "{exp}"),
    log:
        "logs/{exp}/probes/sweep_step{ckpt}.log",
    benchmark:
        "benchmarks/{exp}/probes/sweep_step{ckpt}.tsv"
    wildcard_constraints:
        ckpt=r"\d+",
    threads: TRAIN_THREADS
    resources:
        **PROBE_RESOURCES,
    params:
        **probe_params(),
        # the checkpoint list itself is not read here: adding a step runs only its job
        code=code_of("probe_sweep.py"),
        sweep=lambda w: {
            k: v for k, v in cfg_of(w)["probes"]["sweep"].items() if k != "checkpoints"
        },
    script:
        "../scripts/probe_sweep.py"


rule probe_fixed_batch:
    input:
        checkpoints=lambda w: [
            burn_in_checkpoint(s, w.exp)
            for s in cfg_of(w)["probes"]["fixed_batch"]["branch_steps"]
        ],
    output:
        trajectories=f"{probe_dir('{exp}')}/fixed_batch/trajectories.parquet",
        interpolation=f"{probe_dir('{exp}')}/fixed_batch/interpolation.parquet",
    log:
        "logs/{exp}/probes/fixed_batch.log",
    benchmark:
        "benchmarks/{exp}/probes/fixed_batch.tsv"
    threads: TRAIN_THREADS
    resources:
        **PROBE_RESOURCES,
    params:
        **probe_params("fixed_batch"),
        code=code_of("probe_fixed_batch.py"),
    script:
        "../scripts/probe_fixed_batch.py"


rule probe_alignment:
    input:
        checkpoint=lambda w: burn_in_checkpoint(
            cfg_of(w)["probes"]["alignment"]["branch_step"], w.exp
        ),
    output:
        f"{probe_dir('{exp}')}/alignment.parquet",
    log:
        "logs/{exp}/probes/alignment.log",
    benchmark:
        "benchmarks/{exp}/probes/alignment.tsv"
    threads: TRAIN_THREADS
    resources:
        **PROBE_RESOURCES,
    params:
        **probe_params("alignment"),
        code=code_of("probe_alignment.py"),
        optimizer=section("optimizer"),
        lr=lambda w: alignment_lr(w.exp),
        batch_size=section("trajectory", "batch_size"),
    script:
        "../scripts/probe_alignment.py"


rule fig2:
    input:
        sweep=lambda w: probe_sweep(
            cfg_of(w)["probes"]["fig2"]["checkpoint"], exp_of(w)
        ),
        burn_in=lambda w: f"results/{exp_of(w)}/burn_in/metrics.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig2.pdf",
            caption="../report/fig2.rst",
            category="Loss landscape",
        ),
        png=f"{EXP_FIGURES}/fig2.png",
        sidecar=f"{EXP_FIGURES}/fig2.json",
        caption=f"{EXP_FIGURES}/fig2.caption.rst",
    log:
        "logs/{expdir}figures/fig2.log",
    benchmark:
        "benchmarks/{expdir}figures/fig2.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig2",
        settings=section("probes", "fig2"),
    script:
        "../scripts/probe_figure.py"


rule fig12:
    input:
        sweeps=lambda w: probe_sweeps(exp_of(w)),
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig12.pdf",
            caption="../report/fig12.rst",
            category="Loss landscape",
        ),
        png=f"{EXP_FIGURES}/fig12.png",
        sidecar=f"{EXP_FIGURES}/fig12.json",
        caption=f"{EXP_FIGURES}/fig12.caption.rst",
    log:
        "logs/{expdir}figures/fig12.log",
    benchmark:
        "benchmarks/{expdir}figures/fig12.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig12",
    script:
        "../scripts/probe_figure.py"


rule fig13:
    input:
        sweeps=lambda w: probe_sweeps(exp_of(w)),
        burn_in=lambda w: f"results/{exp_of(w)}/burn_in/metrics.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig13.pdf",
            caption="../report/fig13.rst",
            category="Loss landscape",
        ),
        png=f"{EXP_FIGURES}/fig13.png",
        sidecar=f"{EXP_FIGURES}/fig13.json",
        caption=f"{EXP_FIGURES}/fig13.caption.rst",
    log:
        "logs/{expdir}figures/fig13.log",
    benchmark:
        "benchmarks/{expdir}figures/fig13.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig13",
    script:
        "../scripts/probe_figure.py"


rule fig3:
    input:
        trajectories=lambda w: f"{probe_dir(exp_of(w))}/fixed_batch/trajectories.parquet",
        interpolation=lambda w: f"{probe_dir(exp_of(w))}/fixed_batch/interpolation.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig3.pdf",
            caption="../report/fig3.rst",
            category="Loss landscape",
        ),
        png=f"{EXP_FIGURES}/fig3.png",
        sidecar=f"{EXP_FIGURES}/fig3.json",
        caption=f"{EXP_FIGURES}/fig3.caption.rst",
    log:
        "logs/{expdir}figures/fig3.log",
    benchmark:
        "benchmarks/{expdir}figures/fig3.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig3",
    script:
        "../scripts/probe_figure.py"


rule fig7:
    input:
        alignment=lambda w: f"{probe_dir(exp_of(w))}/alignment.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig7.pdf",
            caption="../report/fig7.rst",
            category="Loss landscape",
        ),
        png=f"{EXP_FIGURES}/fig7.png",
        sidecar=f"{EXP_FIGURES}/fig7.json",
        caption=f"{EXP_FIGURES}/fig7.caption.rst",
    log:
        "logs/{expdir}figures/fig7.log",
    benchmark:
        "benchmarks/{expdir}figures/fig7.tsv"
    threads: 1
    params:
        code=code_of("probe_figure.py"),
        figure="fig7",
    script:
        "../scripts/probe_figure.py"
