"""Training-engine overhead and averaging cost, measured side by side in one run.

    .venv/bin/python bench/bench_training.py [--steps 300] [--repeats 5]

1. ``sgd_loop`` (metrics, averagers and resume checkpoints on, evaluation off) vs a bare loop
   on the same model, data stream and batches: the ratio of their medians.
2. One EMA update: ``online.EMA`` (``torch._foreach_lerp_`` over the parameters) vs a
   timm-style ``_foreach_lerp_`` over the model's floating-point state and
   ``torch.optim.swa_utils.AveragedModel.update_parameters``, on ResNet-8 and ResNet-34 weights.
3. Memory layout on CPU: ResNet-8 SGD steps and evaluation forwards, NCHW vs channels_last
   (oneDNN's NHWC convolutions; why the default config sets ``compute.channels_last``).

Timings interleave the contenders and report medians, because this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from lrtraj import averaging, checkpoint
from lrtraj.averaging import online
from lrtraj.data import load_dataset
from lrtraj.models import build_model
from lrtraj.train import LoopSettings, OptimizerConfig, RunInfo, make_optimizer, sgd_loop


def median_seconds(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():  # interleaved: drift in machine load hits both
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def engine_vs_bare(steps: int, repeats: int) -> dict[str, float]:
    data = load_dataset({"name": "noisy_digits"})
    stream = data.stream(64, 0, torch.device("cpu"))
    batches = [stream.batch(s) for s in range(steps)]  # both loops get the same tensors

    class Replay:
        def batches(self, start: int, stop: int):
            for s in range(start, stop):
                yield (s, *batches[s])

    scratch = tempfile.TemporaryDirectory()

    def engine() -> None:
        model = build_model("resnet8", 1, 10, (16, 32, 64))
        opt = make_optimizer(
            model, OptimizerConfig(momentum=0.9, nesterov=False, weight_decay=0.0), 0.1
        )
        tensors = online.averaged_tensors(model)
        avgs = {
            "ema": online.EMA(0.99, tensors),
            "two_point": averaging.make_averager("two_point", {"k": 100}, 50, tensors),
        }
        sgd_loop(
            model,
            opt,
            Replay(),
            RunInfo("sidetrip", 0, 0, "constant", "baseline", "baseline"),
            start=0,
            stop=steps,
            lr_at=lambda _s: 0.1,
            # resume checkpoints as a side-trip writes them (every 200 steps at the default)
            settings=LoopSettings(
                eval_every=10**9,
                log_every=10**9,
                checkpoint_every=100,
                resume_path=Path(scratch.name) / "resume.pt",
            ),
            averagers=avgs,
        )
        checkpoint.remove(Path(scratch.name) / "resume.pt")  # the next repeat starts afresh

    def bare() -> None:
        model = build_model("resnet8", 1, 10, (16, 32, 64))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model.train()
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

    try:
        return median_seconds({"engine": engine, "bare": bare}, repeats)
    finally:
        scratch.cleanup()


def ema_update(model: nn.Module, repeats: int, updates: int = 50) -> dict[str, float]:
    ours = online.EMA(0.99, online.averaged_tensors(model))
    ref = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.99)
    )
    ref.update_parameters(model)
    tensors = online.averaged_tensors(model)
    # timm's ModelEmaV3 style: one _foreach_lerp_ over the model's floating-point state
    state = [t for t in model.state_dict().values() if t.is_floating_point()]
    timm_avg = [t.detach().clone() for t in state]
    step = {"n": 0}

    def foreach() -> None:
        for _ in range(updates):
            step["n"] += 1
            ours.observe(step["n"], tensors)

    def timm_style() -> None:
        for _ in range(updates):
            torch._foreach_lerp_(timm_avg, state, 0.01)

    def averaged_model() -> None:
        for _ in range(updates):
            ref.update_parameters(model)

    fns = {"ours": foreach, "timm_style": timm_style, "AveragedModel": averaged_model}
    out = median_seconds(fns, repeats)
    return {k: v / updates for k, v in out.items()}


def memory_formats(repeats: int, steps: int = 50) -> dict[str, float]:
    """ResNet-8 on the digits: SGD steps (batch 64) and evaluation forwards (batch 500), NCHW vs
    channels_last (``compute.channels_last``), interleaved."""
    fns = {}
    y = torch.randint(0, 10, (64,))
    for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        model = build_model("resnet8", 1, 10, (16, 32, 64)).to(memory_format=fmt)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(64, 1, 8, 8).contiguous(memory_format=fmt)
        x_eval = torch.randn(500, 1, 8, 8).contiguous(memory_format=fmt)

        def train(model=model, opt=opt, x=x) -> None:
            model.train()
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x), y).backward()
                opt.step()

        @torch.no_grad()
        def evaluate(model=model, x_eval=x_eval) -> None:
            model.eval()
            for _ in range(steps // 5):
                model(x_eval)

        fns[f"train_{name}"], fns[f"eval_{name}"] = train, evaluate
    out = median_seconds(fns, repeats)
    return {k: v / (steps if k.startswith("train") else steps // 5) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread")
    t = engine_vs_bare(args.steps, args.repeats)
    print(
        f"training, {args.steps} steps ResNet-8 batch 64: engine {t['engine']:.3f} s, "
        f"bare {t['bare']:.3f} s, ratio {t['engine'] / t['bare']:.3f}"
    )
    m = memory_formats(args.repeats)
    for kind, what in (("train", "SGD step, batch 64"), ("eval", "eval forward, batch 500")):
        a, b = m[f"{kind}_nchw"], m[f"{kind}_channels_last"]
        print(
            f"ResNet-8 {what}: NCHW {1e3 * a:.2f} ms, channels_last {1e3 * b:.2f} ms, "
            f"time ratio {b / a:.2f}"
        )
    for name in ("resnet8", "resnet34"):
        model = build_model(name, 3 if name == "resnet34" else 1, 10)
        e = ema_update(model, args.repeats)
        faster = min(e["timm_style"], e["AveragedModel"])
        print(
            f"EMA update {name}: ours {1e3 * e['ours']:.3f} ms, "
            f"timm-style foreach lerp {1e3 * e['timm_style']:.3f} ms, "
            f"AveragedModel {1e3 * e['AveragedModel']:.3f} ms; "
            f"ours / the faster reference {e['ours'] / faster:.3f} (goal <= 1.0)"
        )


if __name__ == "__main__":
    main()
