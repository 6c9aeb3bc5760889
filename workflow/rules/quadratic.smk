# Quadratic model (Section 4, Appendix A): one simulation rule per experiment -> tidy Parquet in
# results/quadratic/, one plot rule per figure. Each rule's params are only the config subset it
# reads, so editing e.g. quadratic.lemma1 reruns lemma1 and nothing else.
# Its config relations are checked with the rest in lrtraj.config.check (common.smk).
QUADRATIC = "results/quadratic"
QUADRATIC_TARGETS = [
    "results/figures/fig4.pdf",
    "results/figures/fig9.pdf",
    "results/figures/fig11.pdf",
    "results/figures/lemma1.pdf",
    "results/figures/appendix_a.pdf",
]


rule quadratic_geometry:
    output:
        f"{QUADRATIC}/geometry.parquet",
    log:
        "logs/quadratic/simulate_geometry.log",
    benchmark:
        "benchmarks/quadratic/simulate_geometry.tsv"
    threads: 1
    params:
        experiment="geometry",
        seed=config["quadratic"]["seed"],
        chains=config["quadratic"]["geometry"].get(
            "chains", config["quadratic"]["chains"]
        ),
        settings=config["quadratic"]["geometry"],
    script:
        "../scripts/quadratic_simulate.py"


rule quadratic_fast_slow:
    output:
        f"{QUADRATIC}/fast_slow.parquet",
    log:
        "logs/quadratic/simulate_fast_slow.log",
    benchmark:
        "benchmarks/quadratic/simulate_fast_slow.tsv"
    threads: 1
    params:
        experiment="fast_slow",
        seed=config["quadratic"]["seed"],
        chains=config["quadratic"]["fast_slow"].get(
            "chains", config["quadratic"]["chains"]
        ),
        settings=config["quadratic"]["fast_slow"],
    script:
        "../scripts/quadratic_simulate.py"


rule quadratic_lemma1:
    output:
        f"{QUADRATIC}/lemma1.parquet",
    log:
        "logs/quadratic/simulate_lemma1.log",
    benchmark:
        "benchmarks/quadratic/simulate_lemma1.tsv"
    threads: 1
    params:
        experiment="lemma1",
        seed=config["quadratic"]["seed"],
        chains=config["quadratic"]["lemma1"].get(
            "chains", config["quadratic"]["chains"]
        ),
        settings=config["quadratic"]["lemma1"],
    script:
        "../scripts/quadratic_simulate.py"


rule quadratic_appendix_a:
    output:
        f"{QUADRATIC}/appendix_a.parquet",
    log:
        "logs/quadratic/simulate_appendix_a.log",
    benchmark:
        "benchmarks/quadratic/simulate_appendix_a.tsv"
    threads: 1
    params:
        experiment="appendix_a",
        seed=config["quadratic"]["seed"],
        chains=config["quadratic"]["appendix_a"].get(
            "chains", config["quadratic"]["chains"]
        ),
        settings=config["quadratic"]["appendix_a"],
    script:
        "../scripts/quadratic_simulate.py"


rule quadratic_figure_fig4:
    input:
        f"{QUADRATIC}/geometry.parquet",
    output:
        pdf=report(
            "results/figures/fig4.pdf",
            caption="../report/fig4.rst",
            category="Quadratic model",
        ),
        png="results/figures/fig4.png",
        sidecar="results/figures/fig4.json",
    log:
        "logs/quadratic/fig4.log",
    benchmark:
        "benchmarks/quadratic/fig4.tsv"
    threads: 1
    params:
        figure="fig4",
    script:
        "../scripts/quadratic_figure.py"


rule quadratic_figure_fig9:
    input:
        f"{QUADRATIC}/fast_slow.parquet",
    output:
        pdf=report(
            "results/figures/fig9.pdf",
            caption="../report/fig9.rst",
            category="Quadratic model",
        ),
        png="results/figures/fig9.png",
        sidecar="results/figures/fig9.json",
    log:
        "logs/quadratic/fig9.log",
    benchmark:
        "benchmarks/quadratic/fig9.tsv"
    threads: 1
    params:
        figure="fig9",
    script:
        "../scripts/quadratic_figure.py"


rule quadratic_figure_fig11:
    input:
        f"{QUADRATIC}/fast_slow.parquet",
    output:
        pdf=report(
            "results/figures/fig11.pdf",
            caption="../report/fig11.rst",
            category="Quadratic model",
        ),
        png="results/figures/fig11.png",
        sidecar="results/figures/fig11.json",
    log:
        "logs/quadratic/fig11.log",
    benchmark:
        "benchmarks/quadratic/fig11.tsv"
    threads: 1
    params:
        figure="fig11",
    script:
        "../scripts/quadratic_figure.py"


rule quadratic_figure_lemma1:
    input:
        f"{QUADRATIC}/lemma1.parquet",
    output:
        pdf=report(
            "results/figures/lemma1.pdf",
            caption="../report/lemma1.rst",
            category="Quadratic model",
        ),
        png="results/figures/lemma1.png",
        sidecar="results/figures/lemma1.json",
    log:
        "logs/quadratic/lemma1.log",
    benchmark:
        "benchmarks/quadratic/lemma1.tsv"
    threads: 1
    params:
        figure="lemma1",
    script:
        "../scripts/quadratic_figure.py"


rule quadratic_figure_appendix_a:
    input:
        f"{QUADRATIC}/appendix_a.parquet",
    output:
        pdf=report(
            "results/figures/appendix_a.pdf",
            caption="../report/appendix_a.rst",
            category="Quadratic model",
        ),
        png="results/figures/appendix_a.png",
        sidecar="results/figures/appendix_a.json",
    log:
        "logs/quadratic/appendix_a.log",
    benchmark:
        "benchmarks/quadratic/appendix_a.tsv"
    threads: 1
    params:
        figure="appendix_a",
    script:
        "../scripts/quadratic_figure.py"
