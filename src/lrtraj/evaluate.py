"""Evaluation of a model (or of averaged weights) on the dataset's fixed splits.

Every evaluated model — the constant-lr baseline, each schedule run and each average — is
evaluated on a scratch copy, so evaluation never perturbs the trajectory (resumed runs stay
bit-identical). With ``batchnorm: recompute`` the copy's BatchNorm statistics are recomputed from
the same fixed training batches for every model (``torch.optim.swa_utils.update_bn``): a
baseline's running statistics lag its weights, and comparing them to freshly recomputed
statistics of an average would inflate the averaging gain.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lrtraj.averaging.online import load_tensors
from lrtraj.data import Dataset


@dataclass(frozen=True)
class EvalSettings:
    """The ``evaluation`` config section (defaults: the schema)."""

    batch_size: int
    batchnorm: str  # "recompute" or "average"
    bn_batches: int
    bn_batch_size: int
    bn_seed: int


@torch.no_grad()
def evaluate_splits(
    model: nn.Module, dataset: Dataset, batch_size: int, device: torch.device
) -> dict[tuple[str, str], float]:
    """Mean cross-entropy and accuracy on every split: ``{(split, metric): value}``."""
    model.eval()
    out: dict[tuple[str, str], float] = {}
    for split in dataset.splits:
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        count = 0
        for x, y in dataset.eval_batches(split, batch_size, device):
            logits = model(x)
            loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
            count += len(y)
        out[(split, "loss")] = float(loss_sum) / count
        out[(split, "accuracy")] = float(correct) / count
    return out


class Evaluator:
    """Evaluates models or averaged weights on one scratch copy of the architecture."""

    def __init__(
        self, model: nn.Module, dataset: Dataset, settings: EvalSettings, device: torch.device
    ) -> None:
        self.scratch = copy.deepcopy(model)
        self.dataset, self.settings, self.device = dataset, settings, torch.device(device)
        stream = dataset.stream(settings.bn_batch_size, settings.bn_seed, self.device)
        # the same training batches for every model, drawn once
        self.bn_batches: list[Tensor] = [x for _, x, _ in stream.batches(0, settings.bn_batches)]

    @property
    def averages_buffers(self) -> bool:
        return self.settings.batchnorm == "average"

    def _finish(self, recompute_bn: bool) -> dict[tuple[str, str], float]:
        if recompute_bn:
            torch.optim.swa_utils.update_bn(self.bn_batches, self.scratch, self.device)
        return evaluate_splits(self.scratch, self.dataset, self.settings.batch_size, self.device)

    def model(self, model: nn.Module) -> dict[tuple[str, str], float]:
        """Evaluate a trained model as it is (its BatchNorm statistics recomputed if asked)."""
        self.scratch.load_state_dict(model.state_dict())
        return self._finish(self.settings.batchnorm == "recompute")

    def averaged(self, model: nn.Module, tensors: Sequence[Tensor]) -> dict[tuple[str, str], float]:
        """Evaluate averaged weights; buffers come from the average or are recomputed."""
        self.scratch.load_state_dict(model.state_dict())
        load_tensors(self.scratch, tensors, include_buffers=self.averages_buffers)
        return self._finish(not self.averages_buffers)
