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
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
# the device's own python3 runs this with no install: the package from src/, the CIFAR
# stand-in writer from tests/
for _path in (ROOT / "src", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from lrtraj import averaging  # noqa: E402
from lrtraj.averaging import online  # noqa: E402
from lrtraj.compute import Compute, resolve_device  # noqa: E402
from lrtraj.config import read_yaml, training_sections  # noqa: E402
from lrtraj.data import Augment, TensorDataset  # noqa: E402
from lrtraj.models import build_model  # noqa: E402
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop  # noqa: E402

FAST = {"channels_last": True, "autocast": "bf16", "cudnn_benchmark": True}


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


def bare(args, compute: Compute, stream: Any, device: torch.device) -> float:
    model = compute.place(build_model(args.model, 3, 1000, seed=0), device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    forward = compute.forward(model)
    watch = Stopwatch(device, args.warmup, args.warmup + args.steps)
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
    args, compute: Compute, stream: Any, device: torch.device, batch: int, count_syncs=False
) -> tuple[float, int | None]:
    """Images/s of ``sgd_loop`` and the host syncs CUDA reported inside the timed window
    (None where not counted: CUDA only)."""
    model = compute.place(build_model(args.model, 3, 1000, seed=0), device)
    opt = make_optimizer(model, {"momentum": 0.9}, 0.1)
    tensors = online.averaged_tensors(model)
    period = 10  # two-point snapshots every 10 steps, k = 20: any run length fits
    averagers = {
        "ema": online.EMA(0.999, tensors),
        "two_point": averaging.make_averager("two_point", {"k": 20}, period, tensors),
    }
    watch = Stopwatch(device, args.warmup, args.warmup + args.steps, count_syncs)
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
    return watch.images_per_second(batch), syncs


def cifar_shaped_stream(batch: int, device: torch.device, n: int = 50_000) -> Any:
    """The real in-memory stream (as for CIFAR) over ``n`` random 32x32 images."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    data = TensorDataset("cifar_shaped", x, y, {}, Augment(max_shift=4, flip=True), 10)
    return data.stream(batch, 0, device)


def throughput(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    stream = ReplayStream(args.batch_size, args.image_size, 1000, 4, device)
    b = args.batch_size
    contenders: dict[str, Callable[[], Any]] = {
        "bare_eager": lambda: bare(args, Compute(**FAST), stream, device),
        "engine_eager": lambda: engine(args, Compute(**FAST), stream, device, b)[0],
    }
    if args.compile:
        on = Compute(**FAST, compile=True)

        def bare_compiled() -> float:
            torch._dynamo.reset()  # compile from scratch, as a fresh job does
            return bare(args, on, stream, device)

        contenders["bare_compiled"] = bare_compiled
        contenders["engine_compiled"] = lambda: engine(args, on, stream, device, b)[0]
    cifar_batch, n_images = (2, 100) if args.smoke else (512, 50_000)
    contenders["engine_cifar"] = lambda: engine(
        args,
        Compute(**FAST),
        cifar_shaped_stream(cifar_batch, device, n_images),
        device,
        cifar_batch,
        True,
    )
    out: dict[str, Any] = {}
    for name, run in contenders.items():
        start = time.perf_counter()
        result = run()
        if name == "engine_cifar":
            out[name], out["engine_cifar_host_syncs"] = result
            syncs = "not counted (CPU)" if result[1] is None else result[1]
            note = f", host syncs in the window: {syncs}; batch {cifar_batch}, 32 px"
        else:
            out[name], note = result, ""
        took = time.perf_counter() - start
        print(f"  {name:16s} {out[name]:9.1f} img/s  ({took:.0f} s{note})", flush=True)
    for kind in ("eager", "compiled"):
        if f"bare_{kind}" in out:
            out[f"engine_vs_bare_{kind}"] = out[f"engine_{kind}"] / out[f"bare_{kind}"]
            print(f"  engine / bare ({kind}): {out[f'engine_vs_bare_{kind}']:.3f} (goal >= 0.9)")
    return out


# ------------------------------------------------------------------------------ part 2
def sweep(args: argparse.Namespace) -> str:
    cmd = [sys.executable, str(ROOT / "bench" / "bench_sweep.py"), "--device", args.device]
    cmd += ["--skip-copy", "--repeat", "1" if args.smoke else "5"]
    if args.smoke:
        cmd += ["--lrs", "3", "--chunks", "3"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
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


def sidetrips(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    from lrtraj.analysis.sidetrips import final_comparison, load_sidetrips
    from lrtraj.metrics import write_parquet
    from lrtraj.plots.sidetrips import fig10
    from lrtraj.sidetrips import SideTrip, run_sidetrip
    from lrtraj.trajectory import run_burn_in

    data_dir, data_kind = cifar_data(args, scratch)
    branch, trip_steps, k = (300, 100, 40) if not args.smoke else (6, 10, 4)
    report: dict[str, Any] = {"data": data_kind, "experiments": {}}
    paths: dict[str, list[Path]] = {}
    for name in ("cifar10", "cifar100"):
        torch._dynamo.reset()  # each experiment compiles from scratch, as its jobs would
        cfg = read_yaml(ROOT / "config" / f"{name}.yaml")
        cfg["data"]["data_dir"] = str(data_dir)
        if args.smoke:
            cfg["model"] = {"name": "resnet8", "widths": [8, 8, 8]}
            cfg["trajectory"]["batch_size"] = 8
            cfg["compute"] = {"channels_last": True, "autocast": "bf16"}
            cfg["evaluation"].update(batch_size=50, bn_batches=1, bn_batch_size=8)
        run = training_sections({**cfg, "device": args.device})
        traj = {**cfg["trajectory"], "steps": branch + trip_steps}
        traj.update(checkpoint_every=branch, eval_every=branch, log_every=50)
        out = scratch / name
        start = time.perf_counter()
        run_burn_in(
            **run,
            trajectory=traj,
            checkpoints={branch: out / f"step{branch}.pt"},
            state_dir=out / "state",
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
                branch_checkpoint=out / f"step{branch}.pt",
                **run,
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
    if args.out:
        fig10(paths, args.out / "fig10.pdf", split="test", family="two_point", provenance={})
    return report


# ------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for device_check.json and fig10")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run: the script works")
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 13")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--model", default="resnet34")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--cifar-dir", type=Path, default=ROOT / "data" / "cifar")
    args = parser.parse_args()
    if args.smoke:
        args.batch_size, args.image_size, args.warmup, args.steps = 2, 32, 1, 2
        args.model, args.compile, args.device = "resnet18", False, "cpu"
    device = resolve_device(args.device)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    report: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
    }

    def save() -> None:  # after every part: a run cut short keeps what it measured
        if args.out:
            (args.out / "device_check.json").write_text(json.dumps(report, indent=1))

    print(f"# {name}, torch {torch.__version__}, {args.model}, batch {args.batch_size}")
    if "1" in args.parts:
        print("part 1: images/s (bf16 autocast, channels_last, cudnn.benchmark)", flush=True)
        report["throughput"] = throughput(args, device)
        save()
    if "2" in args.parts:
        print("part 2: one-step lr sweep, in-place vs batched (vmap)", flush=True)
        report["sweep"] = sweep(args)
        print(report["sweep"], flush=True)
        save()
    if "3" in args.parts:
        print("part 3: fig10 side-trips, CIFAR-10 and CIFAR-100, shortened", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            report["sidetrips"] = sidetrips(args, Path(tmp))
        save()


if __name__ == "__main__":
    main()
