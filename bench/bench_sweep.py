"""Benchmark of the one-step lr sweep: the three ways of evaluating the loss at ``w - lr * g``
against the floor, the same number of forward passes at fixed weights.

Run: ``.venv/bin/python bench/bench_sweep.py`` (CPU, 1 thread: ResNet-8 on noisy digits, 31 lrs
x 2 batches of 64, as the default config). ``--device cuda`` times the GPU; ``--model resnet34
--image-size 224 --batch 128`` a paper-sized net on random images. Prints one row per path:
median and best wall time over ``--repeat`` runs and the ratio to the floor, then the machine.

Paths: ``copy`` (a deep copy of the model per lr, the naive reference), ``inplace`` (the lr's
weights written into the model's own parameters, restored after), ``vmap`` (weights stacked
``chunk`` lrs at a time, ``torch.func.functional_call`` under ``vmap``). The gradient (one
forward + backward) is timed separately: every path pays it once.

Results (``probes.method: auto`` = inplace on CPU; on GPU vmap when one forward pass takes under
``sweep.VMAP_MAX_FORWARD_S`` = 4 ms, i.e. is launch-bound, else inplace). Time / floor, median:

2026-11-28, Intel Xeon (this project's 2-core CPU box, shared with other jobs, load ~3), 1 thread,
torch 2.14.1; ResNet-8 16/32/64 on 8x8 digits, 31 lrs x 2 batches of 64, median of 9::

    path              median ms   best ms   / floor
    gradient (once)         9.4       9.1      0.05
    forwards (floor)      173.4     170.3      1.00
    inplace               187.6     177.2      1.08
    vmap chunk=8          204.9     199.1      1.18
    vmap chunk=31         175.4     168.1      1.01
    copy (reference)      306.5     280.0      1.77

2026-11-28, NVIDIA H200, torch 2.11.0+cu130, median of 7 (3 for ResNet-34)::

    model, input, batch          floor ms  inplace  vmap (chunk)        copy
    ResNet-8, 8x8 digits, 64         60.8     1.28  0.21 (31) 0.73 (8)  3.97
    ResNet-8, 32x32 random, 512     112.6     1.03  0.75 (8)  1.04 (31) 2.12
    ResNet-34, 224x224 random, 128  709.6     1.02  1.39 (8)  1.43 (4)  1.89

Paths agree: inplace = copy bit for bit; vmap within 2e-7 (CPU) and 4e-5 (H200, TF32 convolutions)
relative. A one-step sweep also pays one gradient (0.05-0.08 of the floor).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lrtraj.models import build_model  # noqa: E402
from lrtraj.probes.core import gradient, parameters  # noqa: E402
from lrtraj.probes.sweep import forwards_only, line_losses, lr_grid  # noqa: E402


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def _timed(fn: Callable[[], object], device: torch.device, repeat: int) -> list[float]:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up (allocations, cuDNN autotuning, vmap tracing)
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def _batches(args: argparse.Namespace, device: torch.device):
    if args.model.startswith("resnet") and args.image_size == 8:
        from lrtraj.data import load_dataset

        data = load_dataset({"name": "noisy_digits"})
        out = []
        for seed in (1000, 1001):
            _, x, y = next(iter(data.stream(args.batch, seed, device).batches(0, 1)))
            out.append((x, y))
        return out, data.in_channels, data.num_classes
    gen = torch.Generator().manual_seed(0)
    shape = (args.batch, 3, args.image_size, args.image_size)
    out = [
        (
            torch.randn(shape, generator=gen).to(device),
            torch.randint(0, 1000, (args.batch,)).to(device),
        )
        for _ in range(2)
    ]
    return out, 3, 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="resnet8")
    parser.add_argument("--image-size", type=int, default=8, help="8: the digits; else random")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lrs", type=int, default=31)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8, 31])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-copy", action="store_true", help="skip the slow reference path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batches, channels, classes = _batches(args, device)
    widths = (16, 32, 64) if args.model.startswith("resnet") and args.image_size == 8 else None
    model = build_model(args.model, channels, classes, widths, seed=0).to(device)
    lrs = lr_grid(1e-3, 100.0, args.lrs)
    grad, _ = gradient(model, batches[0])
    base = [p.detach().clone() for p in parameters(model)]

    rows: list[tuple[str, list[float]]] = []
    rows.append(
        ("gradient (once)", _timed(lambda: gradient(model, batches[0]), device, args.repeat))
    )
    floor = _timed(lambda: forwards_only(model, len(lrs), batches), device, args.repeat)
    rows.append(("forwards (floor)", floor))
    paths = [("inplace", "inplace", 1)] + [(f"vmap chunk={c}", "vmap", c) for c in args.chunks]
    if not args.skip_copy:
        paths.append(("copy (reference)", "copy", 1))
    for label, method, chunk in paths:
        run = lambda m=method, c=chunk: line_losses(  # noqa: E731
            model, base, grad, lrs, batches, method=m, chunk_size=c
        )
        rows.append((label, _timed(run, device, args.repeat)))

    ref = statistics.median(floor)
    print(
        f"{dt.date.today()}  {_machine(device)}  ({device.type}, {torch.get_num_threads()} "
        f"thread(s), torch {torch.__version__})"
    )
    print(
        f"{args.model}, {args.image_size}x{args.image_size} input, {args.lrs} lrs x "
        f"{len(batches)} batches of {args.batch}, median/best of {args.repeat}"
    )
    print(f"{'path':<20} {'median ms':>10} {'best ms':>9} {'/ floor':>8}")
    for label, times in rows:
        med = statistics.median(times)
        print(f"{label:<20} {1e3 * med:>10.1f} {1e3 * min(times):>9.1f} {med / ref:>8.2f}")
    # agreement of the paths (the test suite checks this on CPU; here on the benchmark's device)
    out = {
        m: line_losses(model, base, grad, lrs, batches, method=m, chunk_size=max(args.chunks))
        for m in ("copy", "inplace", "vmap")
    }
    finite = np.isfinite(out["copy"][..., 0])
    for m in ("inplace", "vmap"):
        rel = np.abs(out[m][..., 0] - out["copy"][..., 0]) / np.abs(out["copy"][..., 0])
        print(
            f"max relative loss difference {m} vs copy: {np.nanmax(np.where(finite, rel, 0)):.2e}"
        )
    print(f"finite losses: {int(finite.sum())}/{finite.size}")


if __name__ == "__main__":
    main()
