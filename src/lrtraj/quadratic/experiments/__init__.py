"""The quadratic-model experiments behind fig4, fig9/fig11, Lemma 1 and Appendix A: a registry.

Each experiment is one module here with a ``run_<name>(*, seed, chains, **settings)`` function
that simulates (``simulate``), computes the exact theory (``theory``) for the same parameters and
returns one tidy DataFrame in the schema of ``lrtraj.quadratic`` (``QUADRATIC_COLUMNS``), a
``config_problems`` check of its config section, and the ``FIGURES`` drawn from its table.
``EXPERIMENTS`` lists them; the workflow builds one job per entry from the ``quadratic.<name>``
config section (``workflow/rules/quadratic.smk``). Adding an experiment is one module plus one
entry below.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.quadratic.experiments import appendix_a, fast_slow, geometry, lemma1
from lrtraj.quadratic.experiments.appendix_a import run_appendix_a
from lrtraj.quadratic.experiments.fast_slow import run_fast_slow
from lrtraj.quadratic.experiments.geometry import run_geometry
from lrtraj.quadratic.experiments.lemma1 import run_lemma1
from lrtraj.quadratic.experiments.table import QUADRATIC_COLUMNS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Experiment:
    """What the workflow needs of one experiment."""

    run: Callable[..., pd.DataFrame]  # keyword-only: seed, chains, the section's other keys
    config_problems: Callable[[Mapping[str, Any]], list[str]]  # of ``quadratic.<name>``
    figures: tuple[str, ...]  # figure names (``lrtraj.plots.quadratic.FIGURES``) it feeds


# experiment name (config section quadratic.<name>, results/quadratic/<name>.parquet) -> spec
EXPERIMENTS: dict[str, Experiment] = {
    module.NAME: Experiment(run, module.config_problems, module.FIGURES)
    for module, run in (
        (geometry, run_geometry),
        (fast_slow, run_fast_slow),
        (lemma1, run_lemma1),
        (appendix_a, run_appendix_a),
    )
}


def experiment_seed(seed: int, experiment: str) -> int:
    """One seed per experiment from the global one, so experiments never share random numbers
    and adding an experiment changes no other's."""
    return int(np.random.SeedSequence([seed, zlib.crc32(experiment.encode())]).generate_state(1)[0])


def run_experiment(
    experiment: str, seed: int, chains: int, settings: Mapping[str, Any]
) -> pd.DataFrame:
    """Run ``experiment`` with its config sub-mapping ``settings`` (``chains`` there overrides
    the global ``chains``)."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown quadratic experiment {experiment!r}: one of {list(EXPERIMENTS)}")
    settings = dict(settings)
    chains = int(settings.pop("chains", chains))
    log.info("quadratic %s: %d chains, settings %s", experiment, chains, settings)
    run = EXPERIMENTS[experiment].run
    return run(seed=experiment_seed(seed, experiment), chains=chains, **settings)


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Relations between the ``quadratic`` keys that a JSON schema cannot express (stability,
    windows that must fit in the run); one message per problem, naming the key."""
    return [p for name, exp in EXPERIMENTS.items() for p in exp.config_problems(cfg[name])]


__all__ = [
    "EXPERIMENTS",
    "QUADRATIC_COLUMNS",
    "Experiment",
    "config_problems",
    "experiment_seed",
    "run_appendix_a",
    "run_experiment",
    "run_fast_slow",
    "run_geometry",
    "run_lemma1",
]
