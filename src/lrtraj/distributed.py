"""Data parallel training: one training job as ``distributed.ranks`` processes (one per GPU).

How ranks start (``run_as_ranks`` at the top of a training job script, then ``session``):

- under ``torchrun`` (or this module's local launcher): ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/
  ``MASTER_ADDR``/``MASTER_PORT`` are set, each process is a rank;
- in a SLURM job step of one task per rank (``srun --ntasks=<ranks>``): ``SLURM_PROCID``/
  ``SLURM_STEP_NUM_TASKS`` give the rank, submitit's ``TorchDistributedEnvironment`` the master
  address and port;
- otherwise, with ``ranks > 1``, the job process is a launcher that starts ``ranks`` copies of
  itself, forwards SIGUSR2/SIGTERM to them and exits with their status: as that job step when
  its SLURM allocation holds ``ranks`` tasks (the submitit plugin's ``tasks`` resource, which
  the training rules set to ``distributed.ranks``: the job's own command runs as one task of
  it), else as local processes on this host (``launch``).

What a rank does (``train.sgd_loop``): the global batch of step ``s`` is still the pure function
of ``(data_seed, s)``; rank ``r`` takes its contiguous ``1/world`` shard (``data.*Stream.shard``).
``DistributedDataParallel`` averages the gradients, so with the loss a mean over each shard the
update equals the single-process update on the whole batch (up to float summation order).
BatchNorm layers compute their training statistics over the global batch: torch's
``SyncBatchNorm`` on CUDA; on CPU, where torch refuses it, ``GlobalBatchNorm`` (two
differentiable all-reduces). Rank 0 alone evaluates, averages, logs progress and writes every
file; the preemption decision and the loss window are reduced over ranks, so every rank stops
at the same step. A world of one runs none of this: the single-process code, bit for bit.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.distributed import _functional_collectives as funcol

from lrtraj.runtime import PREEMPTED_EXIT_CODE

# Rank 0 evaluates alone while the others wait in their next collective: a generous timeout
# (torch's NCCL default is 10 minutes) so a long evaluation is not taken for a hung rank.
TIMEOUT = datetime.timedelta(minutes=60)
_control: dist.ProcessGroup | None = None  # gloo group for host-side flags under NCCL


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if initialized() else 1


def is_main() -> bool:
    return rank() == 0


def _slurm_step_tasks() -> int:
    """The tasks of the SLURM job step this process is one of (1 outside a step, e.g. in a
    batch script, whose SLURM_NTASKS is the allocation's)."""
    return int(os.environ.get("SLURM_STEP_NUM_TASKS", "1"))


def allocated_tasks() -> int:
    """Tasks per node of the SLURM allocation this process runs in (1 outside SLURM)."""
    if "SLURM_JOB_ID" not in os.environ:
        return 1
    per_node = os.environ.get("SLURM_NTASKS_PER_NODE", "1")  # e.g. "2" or "2(x3)"
    return int(per_node.split("(")[0] or 1)


def needs_launch(ranks: int) -> bool:
    """True when ``ranks > 1`` and nothing (torchrun, a SLURM step) started the ranks."""
    return ranks > 1 and "WORLD_SIZE" not in os.environ and _slurm_step_tasks() != ranks


def init(ranks: int, device: str) -> None:
    """Join the process group of ``ranks`` processes (no-op for one): NCCL for a CUDA
    ``device``, gloo on CPU. Each CUDA rank takes GPU ``LOCAL_RANK`` (modulo the visible ones)."""
    global _control
    if ranks == 1 and "WORLD_SIZE" not in os.environ and _slurm_step_tasks() == 1:
        return
    if "WORLD_SIZE" not in os.environ:
        from submitit.helpers import TorchDistributedEnvironment

        # overwrite: the launcher set MASTER_PORT (a free port), which submitit's constructor
        # reads; nothing else of the set is defined outside torchrun (WORLD_SIZE is not)
        TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    world = int(os.environ["WORLD_SIZE"])
    if world != ranks:
        raise ValueError(
            f"distributed.ranks: {ranks}, but this job was started as {world} processes "
            "(WORLD_SIZE / SLURM_STEP_NUM_TASKS); give the job as many tasks as ranks"
        )
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
    _control = dist.new_group(backend="gloo", timeout=TIMEOUT) if cuda else None


def finish() -> None:
    global _control
    if initialized():
        dist.destroy_process_group()
    _control = None


@contextlib.contextmanager
def session(ranks: int, device: str) -> Iterator[None]:
    """``init`` for the duration of a job. The group is torn down when the job ends well; a
    rank that fails just exits (a teardown could wait on peers blocked in a collective with
    it: its launcher, or SLURM, stops them)."""
    init(ranks, device)
    yield
    finish()


# ------------------------------------------------------------------------------ collectives
def any_rank(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any (host-side; gloo even under NCCL)."""
    if world_size() == 1:
        return flag
    t = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_control)
    return bool(t.item())


def barrier() -> None:
    """Wait for every rank (host-side)."""
    if world_size() > 1:
        dist.barrier(group=_control)


def average_(t: Tensor) -> Tensor:
    """``t`` replaced in place by its mean over ranks (on its own device)."""
    if world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t.div_(world_size())
    return t


def check_same(value: int, what: str) -> None:
    """Refuse to go on when ranks disagree on ``value`` (e.g. the step they resumed at)."""
    if world_size() == 1:
        return
    t = torch.tensor([value, -value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_control)
    if int(t[0]) != -int(t[1]):
        raise RuntimeError(f"ranks disagree on {what}: from {-int(t[1])} to {int(t[0])}")


# -------------------------------------------------------------------- model and BatchNorm
def _summed(t: Tensor) -> Tensor:
    """Sum over ranks, differentiable: the backward sums the gradients over ranks."""
    return funcol.all_reduce(t, "sum", dist.group.WORLD)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are the global batch's, for CPU ranks (torch's
    ``SyncBatchNorm`` accepts only accelerator tensors). Mean, then the mean squared deviation,
    each one differentiable all-reduce of per-rank sums: the backward sums the statistics'
    gradients over ranks as ``SyncBatchNorm``'s does. Shards must be of equal size."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.size(1) * world_size()
        mean = _summed(x.sum(dims)) / count
        centered = x - mean.view(shape)
        var = _summed((centered * centered).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum
                if m is None:  # cumulative moving average, as BatchNorm
                    m = 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var * (count / (count - 1)), alpha=m)
        out = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def _global_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with each BatchNorm replaced by a ``GlobalBatchNorm`` sharing its parameters
    and buffers (in place for children, as ``SyncBatchNorm.convert_sync_batchnorm``)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        out = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        module.add_module(name, _global_batchnorm(child))
    return module


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """What the SGD step runs: ``model`` itself for one rank; else ``model`` with global-batch
    BatchNorm (converted in place: same parameters, buffers and state-dict keys; copies taken
    before, such as the evaluator's scratch model, keep plain BatchNorm) wrapped in DDP."""
    if world_size() == 1:
        return model
    if device.type == "cpu":
        _global_batchnorm(model)
    else:
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    # buffers need no broadcast before each forward: every rank derives the same running
    # statistics from the same global ones, and only rank 0's are evaluated or saved
    ids = [torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)


# ---------------------------------------------------------------------------- local launch
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(code: int) -> int:
    return 128 - code if code < 0 else code  # killed by signal N -> 128 + N, as a shell


def launch(command: Sequence[str], ranks: int, preempted_code: int = PREEMPTED_EXIT_CODE) -> int:
    """Run ``command`` as ``ranks`` local processes (ranks 0..ranks-1 on this host), forwarding
    SIGUSR2 (preemption) and SIGTERM to each; when one fails the others are stopped. Returns 0
    when all succeed, ``preempted_code`` when they stopped on a preemption request, else the
    first failure's status."""
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "WORLD_SIZE": str(ranks),
        "LOCAL_WORLD_SIZE": str(ranks),
    }
    procs = [
        subprocess.Popen(list(command), env={**env, "RANK": str(r), "LOCAL_RANK": str(r)})
        for r in range(ranks)
    ]
    return _supervise(procs, preempted_code)


def srun_command(command: Sequence[str], ranks: int) -> list[str]:
    """``command`` as a step of ``ranks`` tasks in this SLURM allocation. ``--overlap`` and
    ``--mem=0``: the step shares the CPUs and memory of the job's own one-task step, which only
    waits for it (SLURM gives that step the job's memory); a task that fails stops the others.
    A preempted rank exits (75) only after rank 0 has saved (``barrier``); SLURM may then kill
    the slower ranks, so the step's status can be 137/143 instead: the executor requeues a job
    that was warned whatever its status."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")  # not inherited by srun on every version
    return [
        "srun",
        "--overlap",
        "--mem=0",
        "--nodes=1",
        f"--ntasks={ranks}",
        *([f"--cpus-per-task={cpus}"] if cpus else []),
        "--kill-on-bad-exit=1",
        "--unbuffered",
        *command,
    ]


def _supervise(procs: list[subprocess.Popen], preempted_code: int) -> int:
    """Wait for ``procs`` (the ranks, or one srun that runs them), forwarding SIGUSR2 and
    SIGTERM, and stopping the others when one fails; their combined status (``launch``)."""

    def forward(sig: int, _frame: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGUSR2, signal.SIGTERM)}
    try:
        failed: int | None = None
        while [p.poll() for p in procs].count(None):  # every rank polled, each round
            codes = [_status(p.returncode) for p in procs if p.returncode is not None]
            bad = [c for c in codes if c not in (0, preempted_code)]
            if bad and failed is None:
                failed = bad[0]
                forward(signal.SIGTERM, None)
            time.sleep(0.05)
        codes = [_status(p.returncode) for p in procs]
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    bad = [c for c in codes if c not in (0, preempted_code)]
    if failed is not None or bad:
        return failed if failed is not None else bad[0]
    return preempted_code if preempted_code in codes else 0


def run_as_ranks(ranks: int) -> None:
    """At the top of a training job script: when this process must start the ranks itself,
    run the script again as ``ranks`` processes and exit with their status."""
    if not needs_launch(ranks):
        return
    command = [sys.executable, *sys.argv]
    if allocated_tasks() == ranks and shutil.which("srun"):
        # a free port, not submitit's default drawn from the job id: several jobs can share
        # one allocation (snakemake run inside salloc) and must not meet at one port
        env = {**os.environ, "MASTER_PORT": str(_free_port())}
        step = subprocess.Popen(srun_command(command, ranks), env=env)
        raise SystemExit(_supervise([step], PREEMPTED_EXIT_CODE))
    raise SystemExit(launch(command, ranks))
