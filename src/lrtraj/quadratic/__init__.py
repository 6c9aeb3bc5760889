"""The quadratic model of Section 4 / Appendix A: vectorised Monte Carlo plus exact theory.

Why a separate model: on per-sample quadratics ``l_x(w) = 1/2 (w - w_x)^T A_x (w - w_x)`` every
claim about the learning rate (stationary ellipsoid, averaging = smaller lr, fast and slow
directions) has an exact answer, so the simulations can be checked to within their own
standard errors rather than by eye.

* ``simulate`` (module; its ``simulate`` function): many chains at once; per-sample form
  (``PerSample``, optional per-sample curvature) and additive-noise form (``AdditiveNoise``);
  any lr schedule; online EMAs and any averaging kernel of ``lrtraj.schedules`` evaluated at
  the last step.
* ``theory``: stationary covariance (Lyapunov and diagonal closed form), averaged-iterate
  variance for any kernel, exact effective lr, exact moment recursions under any schedule.
* ``experiments``: the registry ``EXPERIMENTS``, one module per experiment (fig4, fig9/fig11,
  Lemma 1, Appendix A), each returning a tidy table.

Tidy schema (``QUADRATIC_COLUMNS``, long format, one number per row; written with
``lrtraj.metrics.write_parquet`` to ``results/quadratic/<experiment>.parquet``)::

    column      dtype    meaning
    ----------  -------  ---------------------------------------------------------------
    experiment  str      "geometry" (fig4), "fast_slow" (fig9, fig11), "lemma1", "appendix_a"
    method      str      "sgd" (the iterate), "ema", "two_point", "n_point" (n points k apart),
                         "trajectory" (raw chain coordinates), "closed_form_grid" (theory line)
    param_name  str      name of the method's/sweep's parameter ("ema_beta", "beta", "k", "n",
                         "lr", "gap", "fit_max_lr", ...); "" if none
    param       float64  its value (NaN if none)
    lr          float64  learning rate of the run (NaN where not applicable)
    direction   str      "fast", "slow", "total" (direction groups), "a=<eigenvalue>" (one
                         eigen-direction), "x0"/"x1" (coordinates), "grid", or "all"
    curvature   float64  eigenvalue a of the direction (group's common value; NaN if mixed)
    chain       int64    chain index for per-chain rows, -1 for statistics over chains
    step        int64    SGD step t (weights after t updates); -1 for stationary/summary rows
    statistic   str      what ``value`` is: "mean" (of the loss over chains / its expectation),
                         "sem" (standard error of that mean), "q10"/"q90" (quantiles over
                         chains), "coordinate", "cov_ij", "variance_ratio" (Var v / C),
                         "effective_lr_ratio" (lr'/lr), "mean_sq_radius" (E|w|^2),
                         "loglog_slope", "first_step_below", "stationary_loss", ...;
                         "<name>_sem" is the standard error of "<name>"
    source      str      "theory" (exact formula/recursion) or "monte_carlo"
    value       float64  the number (NaN: e.g. a threshold never crossed)

Losses are excess losses ``L(w) - L(0) = 1/2 w^T A w``. Standard errors are over independent
chains (per-chain time averages first where a window is averaged).
"""

from lrtraj.quadratic.experiments import (
    QUADRATIC_COLUMNS,
    run_appendix_a,
    run_fast_slow,
    run_geometry,
    run_lemma1,
)
from lrtraj.quadratic.simulate import AdditiveNoise, PerSample, Simulation

__all__ = [
    "QUADRATIC_COLUMNS",
    "AdditiveNoise",
    "PerSample",
    "Simulation",
    "run_appendix_a",
    "run_fast_slow",
    "run_geometry",
    "run_lemma1",
]
