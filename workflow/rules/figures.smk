FIGURE_TARGETS = [
    f"{FIGURES}/fig5.pdf",
    f"{FIGURES}/fig1.pdf",
    f"{FIGURES}/table1.md",
    f"{RESULTS}/sidetrips/summary.md",
    f"{FIGURES}/fig6.pdf",
    f"{FIGURES}/fig8.pdf",
    f"{FIGURES}/fig10.pdf",
    f"{FIGURES}/fig14.pdf",
]


rule fig5:
    input:
        lambda w: sidetrips_of(config["figures"]["fig5"]["branch_step"]),
    output:
        pdf=report(
            f"{FIGURES}/fig5.pdf",
            caption="../report/fig5.rst",
            category="Side-trips",
        ),
        png=f"{FIGURES}/fig5.png",
        sidecar=f"{FIGURES}/fig5.json",
    log:
        "logs/figures/fig5.log",
    threads: 1
    params:
        figure=config["figures"]["fig5"],
        averaging=config["sidetrips"]["averaging"],
    script:
        "../scripts/plot_fig5.py"


rule fig1:
    input:
        lambda w: sidetrips_of(config["figures"]["fig1"]["branch_step"]),
    output:
        pdf=report(
            f"{FIGURES}/fig1.pdf",
            caption="../report/fig1.rst",
            category="Side-trips",
        ),
        png=f"{FIGURES}/fig1.png",
        sidecar=f"{FIGURES}/fig1.json",
    log:
        "logs/figures/fig1.log",
    threads: 1
    params:
        figure=config["figures"]["fig1"],
        averaging=config["sidetrips"]["averaging"],
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
        equivalence=config["table1"],
    script:
        "../scripts/table1.py"


rule fig14:
    input:
        lambda w: sidetrips_of(config["figures"]["fig14"]["branch_step"]),
    output:
        pdf=report(
            f"{FIGURES}/fig14.pdf",
            caption="../report/fig14.rst",
            category="Side-trips",
        ),
        png=f"{FIGURES}/fig14.png",
        sidecar=f"{FIGURES}/fig14.json",
    log:
        "logs/figures/fig14.log",
    threads: 1
    params:
        figure=config["figures"]["fig14"],
        families=list(config["sidetrips"]["averaging"]),
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
    log:
        "logs/figures/fig10.log",
    threads: 1
    params:
        figure=config["figures"]["fig10"],
        inputs={
            exp: fig10_inputs(exp) for exp in config["figures"]["fig10"]["experiments"]
        },
    script:
        "../scripts/plot_fig10.py"


rule fig6:
    input:
        metrics=lambda w: sidetrips_of(
            config["figures"]["fig6"]["branch_step"],
            methods=["constant", schedule_method(config["figures"]["fig6"]["family"])],
        ),
        distances=f"{RESULTS}/sidetrips/branch{config['figures']['fig6']['branch_step']}/distances.parquet",
    output:
        pdf=report(
            f"{FIGURES}/fig6.pdf",
            caption="../report/fig6.rst",
            category="Side-trips",
        ),
        png=f"{FIGURES}/fig6.png",
        sidecar=f"{FIGURES}/fig6.json",
    log:
        "logs/figures/fig6.log",
    threads: 1
    params:
        figure=config["figures"]["fig6"],
    script:
        "../scripts/plot_fig6.py"


rule fig8:
    input:
        f"{RESULTS}/twins/distances.parquet",
    output:
        pdf=report(
            f"{FIGURES}/fig8.pdf",
            caption="../report/fig8.rst",
            category="Twin trajectories",
        ),
        png=f"{FIGURES}/fig8.png",
        sidecar=f"{FIGURES}/fig8.json",
    log:
        "logs/figures/fig8.log",
    threads: 1
    script:
        "../scripts/plot_fig8.py"
