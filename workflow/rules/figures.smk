FIGURE_TARGETS = [
    f"{FIGURES}/fig5.pdf",
    f"{FIGURES}/fig1.pdf",
    f"{FIGURES}/table1.md",
    f"{RESULTS}/sidetrips/summary.md",
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
    conda:
        ENV
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
    conda:
        ENV
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
    conda:
        ENV
    threads: 1
    params:
        equivalence=config["table1"],
    script:
        "../scripts/table1.py"
