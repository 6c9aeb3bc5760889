# Quadratic model (Section 4, Appendix A): one simulation job per experiment of the registry
# lrtraj.quadratic.experiments.EXPERIMENTS -> tidy Parquet in results/quadratic/, one plot job
# per figure an experiment feeds. A simulation's params are only what it reads (its
# quadratic.<name> section, the seed, its chain count), so editing e.g. quadratic.lemma1 reruns
# lemma1 and its figure, nothing else.
# Its config relations are checked with the rest in lrtraj.config.check (common.smk).
import re

from lrtraj.quadratic.experiments import EXPERIMENTS as QUADRATIC_EXPERIMENTS

QUADRATIC = "results/quadratic"
QUADRATIC_CFG = config["quadratic"]
# figure -> the experiment whose table it is drawn from
QUADRATIC_FIGURES = {
    figure: name
    for name, spec in QUADRATIC_EXPERIMENTS.items()
    for figure in spec.figures
}
# one model for every experiment: its figures are built once, in FIGURES
SHARED_TARGETS += [f"{FIGURES}/{figure}.pdf" for figure in QUADRATIC_FIGURES]


rule quadratic_simulate:
    output:
        f"{QUADRATIC}/{{experiment}}.parquet",
    log:
        "logs/quadratic/simulate_{experiment}.log",
    benchmark:
        "benchmarks/quadratic/simulate_{experiment}.tsv"
    wildcard_constraints:
        experiment="|".join(map(re.escape, QUADRATIC_EXPERIMENTS)),
    threads: 1
    params:
        code=code_of("quadratic_simulate.py"),
        experiment=lambda w: w.experiment,
        seed=QUADRATIC_CFG["seed"],
        chains=lambda w: QUADRATIC_CFG[w.experiment].get(
            "chains", QUADRATIC_CFG["chains"]
        ),
        settings=lambda w: QUADRATIC_CFG[w.experiment],
    script:
        "../scripts/quadratic_simulate.py"


rule quadratic_figure:
    input:
        lambda w: f"{QUADRATIC}/{QUADRATIC_FIGURES[w.figure]}.parquet",
    output:
        pdf=report(
            f"{FIGURES}/{{figure}}.pdf",
            caption="../report/quadratic.rst",
            category="Quadratic model",
        ),
        png=f"{FIGURES}/{{figure}}.png",
        sidecar=f"{FIGURES}/{{figure}}.json",
        caption=f"{FIGURES}/{{figure}}.caption.rst",
    log:
        "logs/quadratic/{figure}.log",
    benchmark:
        "benchmarks/quadratic/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(map(re.escape, QUADRATIC_FIGURES)),
    threads: 1
    params:
        code=code_of("quadratic_figure.py"),
        figure=lambda w: w.figure,
    script:
        "../scripts/quadratic_figure.py"
