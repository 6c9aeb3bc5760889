"""Training: the SGD loop (``loop``) and the hooks it calls (``hooks``)."""

from lrtraj.train.config import ModelConfig, OptimizerConfig, TrainingConfig
from lrtraj.train.hooks import Hook, Run, RunInfo, training_state
from lrtraj.train.loop import LoopResult, LoopSettings, StepCallback, make_optimizer, sgd_loop

__all__ = [
    "Hook",
    "LoopResult",
    "LoopSettings",
    "ModelConfig",
    "OptimizerConfig",
    "Run",
    "RunInfo",
    "StepCallback",
    "TrainingConfig",
    "make_optimizer",
    "sgd_loop",
    "training_state",
]
