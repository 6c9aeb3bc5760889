# Side-trip and twin figures. fig5, fig1, fig6, fig8 and fig14 are drawn for every experiment
# from its own runs and `figures` section, into its figures_dir ({expdir} wildcard, common.smk);
# fig10 (experiments side by side) and table1 (a model problem, no runs) are built once.
PER_EXPERIMENT += [f"{name}.pdf" for name in ("fig5", "fig1", "fig6", "fig8", "fig14")]
SHARED_TARGETS += [f"{FIGURES}/table1.md", f"{FIGURES}/fig10.pdf"]


rule fig5:
    input:
        figure_sidetrips("fig5"),
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig5.pdf",
            caption="../report/fig5.rst",
            category="Side-trips",
        ),
        png=f"{EXP_FIGURES}/fig5.png",
        sidecar=f"{EXP_FIGURES}/fig5.json",
        caption=f"{EXP_FIGURES}/fig5.caption.rst",
    log:
        "logs/{expdir}figures/fig5.log",
    threads: 1
    params:
        code=code_of("plot_fig5.py"),
        figure=section("figures", "fig5"),
        averaging=section("sidetrips", "averaging"),
    script:
        "../scripts/plot_fig5.py"


rule fig1:
    input:
        figure_sidetrips("fig1"),
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig1.pdf",
            caption="../report/fig1.rst",
            category="Side-trips",
        ),
        png=f"{EXP_FIGURES}/fig1.png",
        sidecar=f"{EXP_FIGURES}/fig1.json",
        caption=f"{EXP_FIGURES}/fig1.caption.rst",
    log:
        "logs/{expdir}figures/fig1.log",
    threads: 1
    params:
        code=code_of("plot_fig1.py"),
        figure=section("figures", "fig1"),
        averaging=section("sidetrips", "averaging"),
    script:
        "../scripts/plot_fig1.py"


rule table1:
    output:
        md=report(
            f"{FIGURES}/table1.md",
            caption="../report/table1.rst",
            category="Tables",
        ),
        csv=f"{FIGURES}/table1.csv",
        tex=f"{FIGURES}/table1.tex",
        parquet=f"{RESULTS}/table1_equivalence.parquet",
    log:
        "logs/figures/table1.log",
    threads: 1
    params:
        code=code_of("table1.py"),
        equivalence=config["table1"],
    script:
        "../scripts/table1.py"


rule fig14:
    input:
        figure_sidetrips("fig14"),
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig14.pdf",
            caption="../report/fig14.rst",
            category="Side-trips",
        ),
        png=f"{EXP_FIGURES}/fig14.png",
        sidecar=f"{EXP_FIGURES}/fig14.json",
        caption=f"{EXP_FIGURES}/fig14.caption.rst",
    log:
        "logs/{expdir}figures/fig14.log",
    threads: 1
    params:
        code=code_of("plot_fig14.py"),
        figure=section("figures", "fig14"),
        families=lambda w: list(cfg_of(w)["sidetrips"]["averaging"]),
    script:
        "../scripts/plot_fig14.py"


rule fig10:
    input:
        lambda w: [
            path
            for exp in config["figures"]["fig10"]["experiments"]
            for path in fig10_inputs(exp)
        ],
    output:
        pdf=report(
            f"{FIGURES}/fig10.pdf",
            caption="../report/fig10.rst",
            category="Side-trips",
        ),
        png=f"{FIGURES}/fig10.png",
        sidecar=f"{FIGURES}/fig10.json",
        caption=f"{FIGURES}/fig10.caption.rst",
    log:
        "logs/figures/fig10.log",
    threads: 1
    params:
        code=code_of("plot_fig10.py"),
        figure=config["figures"]["fig10"],
        inputs={
            exp: fig10_inputs(exp) for exp in config["figures"]["fig10"]["experiments"]
        },
    script:
        "../scripts/plot_fig10.py"


rule fig6:
    input:
        metrics=figure_sidetrips("fig6", family=True),
        distances=lambda w: (
            f"results/{exp_of(w)}/sidetrips/"
            f"branch{cfg_of(w)['figures']['fig6']['branch_step']}/distances.parquet"
        ),
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig6.pdf",
            caption="../report/fig6.rst",
            category="Side-trips",
        ),
        png=f"{EXP_FIGURES}/fig6.png",
        sidecar=f"{EXP_FIGURES}/fig6.json",
        caption=f"{EXP_FIGURES}/fig6.caption.rst",
    log:
        "logs/{expdir}figures/fig6.log",
    threads: 1
    params:
        code=code_of("plot_fig6.py"),
        figure=section("figures", "fig6"),
    script:
        "../scripts/plot_fig6.py"


rule fig8:
    input:
        lambda w: f"results/{exp_of(w)}/twins/distances.parquet",
    output:
        pdf=report(
            f"{EXP_FIGURES}/fig8.pdf",
            caption="../report/fig8.rst",
            category="Twin trajectories",
        ),
        png=f"{EXP_FIGURES}/fig8.png",
        sidecar=f"{EXP_FIGURES}/fig8.json",
        caption=f"{EXP_FIGURES}/fig8.caption.rst",
    log:
        "logs/{expdir}figures/fig8.log",
    threads: 1
    params:
        code=code_of("plot_fig8.py"),
    script:
        "../scripts/plot_fig8.py"
