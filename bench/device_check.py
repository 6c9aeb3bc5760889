"""GPU device check: ResNet-34 images/s of our engine vs a bare loop (eager and compiled), host
syncs per step, the one-step lr sweep, and the CIFAR fig10 side-trips at reduced length.

On a lent H200 (an estimated 6-8 min; its python3 holds torch, pandas, seaborn: no install),
in two calls of the device tool to stay inside the 10-minute limit of one (each brings back its
own ``device_check.json``)::

    PYTHONUNBUFFERED=1 PYTHONPATH=src python3 bench/device_check.py --parts 1 --out "$OUT"
    PYTHONUNBUFFERED=1 PYTHONPATH=src python3 bench/device_check.py --parts 23 --out "$OUT"

Here, to see that it still works (CPU, seconds; ``make test`` runs this)::

    .venv/bin/python bench/device_check.py --smoke --out /tmp/device_check

Part 1 (throughput). Four contenders, each a fresh torchvision ResNet-34 with SGD momentum 0.9
on ImageNet-shaped batches (``--batch-size`` x 3 x 224 x 224, 1000 classes) generated once on
the GPU and replayed, so only the training step is timed:

    bare_eager       a plain PyTorch loop (channels_last, bf16 autocast, cudnn.benchmark)
    engine_eager     ``lrtraj.train.sgd_loop`` with the same ``compute`` settings, per-step
                     metrics, an EMA and a two-point averager attached (evaluation off)
    bare_compiled    the plain loop with ``torch.compile`` on the forward
    engine_compiled  the engine with ``compute.compile: true`` (the paper-scale overlays' setting)

Images/s are timed between two device synchronisations after ``--warmup`` steps (compilation and
cuDNN autotuning excluded). Goal: engine_compiled >= 0.9 x bare_compiled. Anchor: timm reports
ResNet-34 with AMP + channels_last at ~2000 img/s on an RTX 3090. A fifth run, ``engine_cifar``,
trains on CIFAR-shaped data through the real in-memory stream (indices, crop and flip drawn per
step on the host) with ``torch.cuda.set_sync_debug_mode`` on: the host syncs it reports inside
the timed window (goal: 0; the engine flushes its loss window only at log steps).

Part 2 (lr sweep). ``bench/bench_sweep.py`` on the device: the one-step sweep's in-place loop vs
its batched (``vmap``) form, ResNet-8 on the digits (on a GPU the batched form should win).

Part 3 (side-trips). The fig10 runs of ``config/cifar10.yaml`` and ``cifar100.yaml``, shortened:
burn-in of 400 steps, side-trips of 100 steps from step 300 (constant lr with its two-point
average, and the two-point schedule), one seed, with the overlays' ``compute`` settings, through
``run_burn_in``/``run_sidetrip`` (the functions the workflow's jobs call; no Snakemake needed).
Real CIFAR comes from ``--cifar-dir`` (``cifar-10-batches-py/``, ``cifar-100-python/``); without
it a learnable stand-in of the same size and format is written (the device has no network), so
the timings are real and the losses are not CIFAR's. Draws ``fig10.pdf`` from the runs.

Results: a table on stdout; under ``--out`` ``device_check.json`` (rewritten after every part,
so a run cut short keeps what it measured) and fig10 (pdf, png, json): four files, flat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
# the device's own python3 runs this with no install: the package from src/, the CIFAR
# stand-in writer from tests/
for _path in (ROOT / "src", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from lrtraj import averaging  # noqa: E402
from lrtraj.averaging import online  # noqa: E402
from lrtraj.compute import Compute, resolve_device  # noqa: E402
from lrtraj.config import load  # noqa: E402
from lrtraj.data import Augment, TensorDataset  # noqa: E402
from lrtraj.models import build_model  # noqa: E402
from lrtraj.train import (  # noqa: E402
    LoopSettings,
    OptimizerConfig,
    RunInfo,
    TrainingConfig,
    make_optimizer,
    sgd_loop,
)

FAST = {"channels_last": True, "autocast": "bf16", "cudnn_benchmark": True}
DATASHEET_BF16_TFLOPS = {"NVIDIA H100 80GB HBM3": 989.4, "NVIDIA H200": 989.4}


# ------------------------------------------------------------------------------ part 1
class ReplayStream:
    """``pool`` batches resident on the device, replayed by step (no host-to-device copies)."""

    def __init__(self, batch: int, size: int, classes: int, pool: int, device: torch.device):
        gen = torch.Generator(device=device).manual_seed(0)
        shape = (batch, 3, size, size)
        self.x = [torch.randn(shape, generator=gen, device=device) for _ in range(pool)]
        self.y = [
            torch.randint(0, classes, (batch,), generator=gen, device=device) for _ in range(pool)
        ]

    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        for s in range(start, stop):
            yield s, self.x[s % len(self.x)], self.y[s % len(self.y)]


class Stopwatch:
    """A step callback: synchronises the device and reads the clock at two steps; with
    ``count_syncs``, CUDA's sync debug mode is on between them."""

    def __init__(self, device: torch.device, first: int, last: int, count_syncs: bool = False):
        self.device, self.first, self.last = device, first, last
        self.count_syncs = count_syncs and device.type == "cuda"
        self.times: dict[int, float] = {}

    def __call__(self, step: int, _model: Any = None) -> None:
        if step not in (self.first, self.last):
            return
        if self.count_syncs and step == self.last:  # before our own synchronise: not counted
            torch.cuda.set_sync_debug_mode("default")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.times[step] = time.perf_counter()
        if self.count_syncs and step == self.first:
            torch.cuda.set_sync_debug_mode("warn")

    def images_per_second(self, batch: int) -> float:
        return (self.last - self.first) * batch / (self.times[self.last] - self.times[self.first])


@dataclass(frozen=True)
class Shape:
    """One workload of part 1: a model on device-resident batches of one image size."""

    name: str
    model: str
    image_size: int
    classes: int
    steps: int  # timed steps (after the warm-up)


SHAPES = {
    "cifar": Shape("cifar", "resnet34_cifar", 32, 10, 100),
    "imagenet": Shape("imagenet", "resnet34", 224, 1000, 50),
}
SMOKE_SHAPE = Shape("smoke", "resnet18_cifar", 32, 10, 2)


def flops_per_image(shape: Shape, device: torch.device) -> float:
    """FLOPs of one training step's forward and backward per image (2 per multiply-add)."""
    model = build_model(shape.model, 3, shape.classes, seed=0).to(device)
    x = torch.randn(2, 3, shape.image_size, shape.image_size, device=device)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return counter.get_total_flops() / 2


def matmul_tflops(device: torch.device, n: int = 8192, repeat: int = 10) -> float | None:
    """The chip's bf16 matrix rate measured here (random n x n x n products), as a ceiling."""
    if device.type != "cuda":
        return None
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * n**3 * repeat / (time.perf_counter() - start) / 1e12


def bare(args, shape: Shape, compute: Compute, stream: Any, device: torch.device) -> float:
    model = compute.place(build_model(shape.model, 3, shape.classes, seed=0), device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    forward = compute.forward(model)
    watch = Stopwatch(device, args.warmup, args.warmup + shape.steps)
    model.train()
    for s, x, y in stream.batches(0, watch.last):
        opt.zero_grad(set_to_none=True)
        with compute.step_context(device):
            loss = nn.functional.cross_entropy(forward(compute.inputs(x)), y)
        loss.backward()
        opt.step()
        watch(s + 1)
    return watch.images_per_second(args.batch_size)


def engine(
    args, shape: Shape, compute: Compute, stream: Any, device: torch.device, count_syncs=False
) -> tuple[float, int | None]:
    """Images/s of ``sgd_loop`` and the host syncs CUDA reported inside the timed window
    (None where not counted: CUDA only)."""
    model = compute.place(build_model(shape.model, 3, shape.classes, seed=0), device)
    momentum = OptimizerConfig(momentum=0.9, nesterov=False, weight_decay=0.0)
    opt = make_optimizer(model, momentum, 0.1)
    tensors = online.averaged_tensors(model)
    period = 10  # two-point snapshots every 10 steps, k = 20: any run length fits
    averagers = {
        "ema": online.EMA(0.999, tensors),
        "two_point": averaging.make_averager("two_point", {"k": 20}, period, tensors),
    }
    watch = Stopwatch(device, args.warmup, args.warmup + shape.steps, count_syncs)
    # with counting, no log step inside the window: the loss window's flush is a deliberate sync
    log_every = 10**9 if count_syncs else 50
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sgd_loop(
            model,
            opt,
            stream,
            RunInfo("sidetrip", 0, 0, "constant", "baseline", "baseline"),
            start=0,
            stop=watch.last,
            lr_at=lambda _s: 0.1,
            settings=LoopSettings(eval_every=10**9, log_every=log_every, compute=compute),
            averagers=averagers,
            callbacks=[watch],
        )
    syncs = sum("synchroniz" in str(w.message) for w in caught) if watch.count_syncs else None
    return watch.images_per_second(args.batch_size), syncs


def cifar_shaped_stream(batch: int, device: torch.device, n: int = 50_000) -> Any:
    """The real in-memory stream (as for CIFAR) over ``n`` random 32x32 images."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    data = TensorDataset("cifar_shaped", x, y, {}, Augment(max_shift=4, flip=True), 10)
    return data.stream(batch, 0, device)


def throughput(
    args: argparse.Namespace, shape: Shape, device: torch.device, peak: float | None, save
) -> dict[str, Any]:
    """Images/s, TFLOP/s and MFU of each contender on ``shape``; ``save()`` after each."""
    stream = ReplayStream(args.batch_size, shape.image_size, shape.classes, 4, device)
    flops = flops_per_image(shape, device)
    out: dict[str, Any] = {"model": shape.model, "image_size": shape.image_size}
    out["gflop_per_image"] = round(flops / 1e9, 3)
    contenders: dict[str, Callable[[], Any]] = {
        "bare_eager": lambda: bare(args, shape, Compute(**FAST), stream, device),
        "engine_eager": lambda: engine(args, shape, Compute(**FAST), stream, device)[0],
    }
    if args.compile and shape.name in args.compile_shapes.split(","):
        on = Compute(**FAST, compile=True)

        def bare_compiled() -> float:
            torch._dynamo.reset()  # compile from scratch, as a fresh job does
            return bare(args, shape, on, stream, device)

        def engine_compiled() -> float:
            torch._dynamo.reset()
            return engine(args, shape, on, stream, device)[0]

        contenders["bare_compiled"] = bare_compiled
        contenders["engine_compiled"] = engine_compiled
    if shape.image_size == 32:  # the real in-memory stream, with CUDA's sync debug mode on
        n_images = 100 if args.smoke else 50_000
        contenders["engine_stream"] = lambda: engine(
            args,
            shape,
            Compute(**FAST),
            cifar_shaped_stream(args.batch_size, device, n_images),
            device,
            True,
        )
    for name, run in contenders.items():
        if time.perf_counter() > args.deadline:
            out[name] = "skipped: the run's time budget (--budget-s) was spent"
            print(f"  {name:16s} skipped (time budget)", flush=True)
            continue
        start = time.perf_counter()
        try:
            result = run()
        except Exception as err:  # noqa: BLE001 (one contender's failure must not end the check)
            out[name] = f"failed: {type(err).__name__}: {err}"[:2000]
            print(f"  {name:16s} FAILED\n{traceback.format_exc()}", flush=True)
            save()
            continue
        note = ""
        if name == "engine_stream":
            result, syncs = result
            out["engine_stream_host_syncs"] = syncs
            note = f", host syncs in the window: {'not counted (CPU)' if syncs is None else syncs}"
        tflops = result * flops / 1e12
        out[name] = {"images_per_s": round(result, 1), "tflop_per_s": round(tflops, 1)}
        if peak:
            out[name]["mfu"] = round(tflops / peak, 3)
        if args.peak_measured:
            out[name]["of_measured_matmul"] = round(tflops / args.peak_measured, 3)
        took = time.perf_counter() - start
        mfu = f", MFU {tflops / peak:.1%}" if peak else ""
        print(
            f"  {name:16s} {result:9.1f} img/s {tflops:7.1f} TFLOP/s{mfu} ({took:.0f} s{note})",
            flush=True,
        )
        save()
    for kind in ("eager", "compiled"):
        a, b = out.get(f"engine_{kind}"), out.get(f"bare_{kind}")
        if isinstance(a, dict) and isinstance(b, dict):
            ratio = a["images_per_s"] / b["images_per_s"]
            out[f"engine_vs_bare_{kind}"] = round(ratio, 3)
            print(f"  engine / bare ({kind}): {ratio:.3f} (goal >= 0.9)")
    return out


# ------------------------------------------------------------------------------ part 2
def sweep(args: argparse.Namespace) -> str:
    cmd = [sys.executable, str(ROOT / "bench" / "bench_sweep.py"), "--device", args.device]
    cmd += ["--skip-copy", "--repeat", "1" if args.smoke else "5"]
    if args.smoke:
        cmd += ["--lrs", "3", "--chunks", "3"]
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        return f"bench_sweep.py failed (rc {proc.returncode}):\n{proc.stderr[-2000:]}"
    return proc.stdout


# ------------------------------------------------------------------------------ part 3
def cifar_data(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    real = args.cifar_dir
    if real and (real / "cifar-10-batches-py").is_dir() and (real / "cifar-100-python").is_dir():
        return real.resolve(), "real CIFAR-10/100"
    from tests.fixtures import write_cifar

    root = scratch / "cifar_standin"
    n_train, n_test = (50_000, 10_000) if not args.smoke else (200, 50)
    write_cifar(root, 10, n_train, n_test, seed=0, learnable=True)
    write_cifar(root, 100, n_train, n_test, seed=1, learnable=True)
    return root, "learnable stand-in of CIFAR's size and format (no CIFAR on this machine)"


def sidetrips(args: argparse.Namespace, scratch: Path, report: dict[str, Any], save) -> None:
    """Fills ``report`` per experiment, ``save()`` after each."""
    from lrtraj.analysis.sidetrips import final_comparison, load_sidetrips
    from lrtraj.metrics import write_parquet
    from lrtraj.plots.sidetrips import fig10
    from lrtraj.sidetrips import SideTrip, run_sidetrip
    from lrtraj.trajectory import TrajectoryConfig, run_burn_in

    data_dir, data_kind = cifar_data(args, scratch)
    branch, trip_steps, k = (300, 100, 40) if not args.smoke else (6, 10, 4)
    report.update(data=data_kind, experiments={})
    paths: dict[str, list[Path]] = {}
    for name in ("cifar10", "cifar100"):
        if time.perf_counter() > args.deadline:
            report["experiments"][name] = "skipped: the run's time budget (--budget-s) was spent"
            continue
        torch._dynamo.reset()  # each experiment compiles from scratch, as its jobs would
        cfg = load(ROOT / "config" / f"{name}.yaml")  # validated: every default filled in
        cfg["data"]["data_dir"] = str(data_dir)
        cfg["device"] = args.device
        if args.smoke:
            cfg["model"].update(name="resnet8", widths=[8, 8, 8])
            cfg["trajectory"]["batch_size"] = 8
            cfg["compute"].update(compile=False, cudnn_benchmark=False)
            cfg["evaluation"].update(batch_size=50, bn_batches=1, bn_batch_size=8)
        run = TrainingConfig.from_config(cfg)
        traj = {**cfg["trajectory"], "steps": branch + trip_steps, "eval_every": branch}
        out = scratch / name
        start = time.perf_counter()
        run_burn_in(
            run,
            TrajectoryConfig.from_config(traj),
            checkpoints={branch: out / f"step{branch}.pt"},
            state_dir=out / "state",
            checkpoint_every=branch,
            log_every=50,
        )
        timing = {"burn_in_s": time.perf_counter() - start, "burn_in_steps": traj["steps"]}
        paths[name] = []
        for method in ("constant", "two_point_schedule"):
            trip = SideTrip(
                branch_step=branch,
                data_seed=0,
                method=method,
                steps=trip_steps,
                lr=traj["lr"],
                eval_every=trip_steps // 5,
                averaging={"two_point": {"k": k}},
            )
            start = time.perf_counter()
            df = run_sidetrip(
                trip,
                run,
                branch_checkpoint=out / f"step{branch}.pt",
                batch_size=traj["batch_size"],
                log_every=50,
            )
            timing[f"{method}_s"] = time.perf_counter() - start
            paths[name].append(out / f"{method}.parquet")
            write_parquet(df, paths[name][-1], {"rule": "device_check"})
        cmp = final_comparison(load_sidetrips(paths[name]), "test")
        loss = cmp[(cmp["metric"] == "loss") & (cmp["family"] == "two_point")].iloc[0]
        report["experiments"][name] = {
            **{key: round(value, 1) for key, value in timing.items()},
            "test_loss": {c: float(loss[c]) for c in ("baseline", "average", "schedule")},
        }
        print(f"  {name}: {json.dumps(report['experiments'][name])}", flush=True)
        save()
    if args.out and paths:
        fig10(paths, args.out / "fig10.pdf", split="test", family="two_point", provenance={})


# ------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for device_check.json and fig10")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run: the script works")
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 13")
    parser.add_argument("--shapes", default="cifar,imagenet", help="part 1's workloads, in order")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--compile-shapes", default="cifar", help="shapes also timed compiled")
    parser.add_argument("--budget-s", type=float, default=1e9, help="skip what starts later")
    parser.add_argument("--cifar-dir", type=Path, default=ROOT / "data" / "cifar")
    args = parser.parse_args()
    args.deadline = time.perf_counter() + args.budget_s
    shapes = [SHAPES[name] for name in args.shapes.split(",") if name]
    if args.smoke:
        args.batch_size, args.warmup, args.compile, args.device = 2, 1, False, "cpu"
        shapes, args.compile_shapes = [SMOKE_SHAPE], ""
    device = resolve_device(args.device)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    # the datasheet's dense bf16 rate of the H100/H200 SXM, against which MFU is reported
    peak = DATASHEET_BF16_TFLOPS.get(name)
    args.peak_measured = matmul_tflops(device)
    report: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "batch_size": args.batch_size,
        "compute": FAST,
        "peak_bf16_tflops_datasheet": peak,
        "matmul_bf16_tflops_measured": args.peak_measured and round(args.peak_measured, 1),
    }

    def save() -> None:  # after every measurement: a run cut short keeps what it measured
        if args.out:
            (args.out / "device_check.json").write_text(json.dumps(report, indent=1))

    print(f"# {name}, torch {torch.__version__}, batch {args.batch_size}, peak {peak} TFLOP/s")
    if args.peak_measured:
        print(f"# measured bf16 matmul (8192^3): {args.peak_measured:.0f} TFLOP/s")
    if "1" in args.parts:
        report["throughput"] = {}
        for shape in shapes:
            print(f"part 1: {shape.model} at {shape.image_size} px, images/s", flush=True)
            report["throughput"][shape.name] = {}
            report["throughput"][shape.name] = throughput(args, shape, device, peak, save)
            save()
    if "2" in args.parts and time.perf_counter() < args.deadline:
        print("part 2: one-step lr sweep, in-place vs batched (vmap)", flush=True)
        report["sweep"] = sweep(args)
        print(report["sweep"], flush=True)
        save()
    if "3" in args.parts and time.perf_counter() < args.deadline:
        print("part 3: fig10 side-trips, CIFAR-10 and CIFAR-100, shortened", flush=True)
        report["sidetrips"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            try:
                sidetrips(args, Path(tmp), report["sidetrips"], save)
            except Exception as err:  # noqa: BLE001 (keep what parts 1 and 2 measured)
                report["sidetrips"]["failed"] = f"{type(err).__name__}: {err}"[:2000]
                print(f"  part 3 FAILED\n{traceback.format_exc()}", flush=True)
                save()


if __name__ == "__main__":
    main()
