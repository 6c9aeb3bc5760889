"""Training: the SGD loop (``loop``) and the hooks it calls (``hooks``)."""

from lrtraj.train.hooks import Hook, Run, RunInfo, training_state
from lrtraj.train.loop import LoopResult, LoopSettings, StepCallback, make_optimizer, sgd_loop

__all__ = [
    "Hook",
    "LoopResult",
    "LoopSettings",
    "Run",
    "RunInfo",
    "StepCallback",
    "make_optimizer",
    "sgd_loop",
    "training_state",
]
