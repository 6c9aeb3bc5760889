"""GPU device check: ResNet-34 images/s of our engine vs a bare compiled loop, then the CIFAR
fig10 side-trips at reduced length through the real DAG.

    .venv/bin/python bench/device_check.py --out "$OUT"     # a lent H200: ~8 min in all
    .venv/bin/python bench/device_check.py --smoke          # CPU, seconds: the script still works

Part 1 (throughput). ImageNet-shaped batches (``--batch-size`` x 3 x 224 x 224, 1000 classes)
are generated once on the GPU and replayed, so only the training step is timed. Four contenders,
each a fresh torchvision ResNet-34 with SGD momentum 0.9, in this order:

    bare_eager       a plain PyTorch loop (channels_last, bf16 autocast)
    engine_eager     ``lrtraj.train.sgd_loop`` with the same ``compute`` settings, per-step
                     metrics, an EMA and a two-point averager attached (evaluation off)
    bare_compiled    the plain loop with ``torch.compile`` on the forward
    engine_compiled  the engine with ``compute.compile: true`` (the paper-scale overlays' setting)

Images/s are timed between two device synchronisations after ``--warmup`` steps (compilation and
cuDNN autotuning excluded). Goal: engine_compiled >= 0.9 x bare_compiled. Anchor: timm reports
ResNet-34 with AMP + channels_last at ~2000 img/s on an RTX 3090.

Part 2 (pipeline). ``snakemake results/figures/fig10.pdf`` on ``config/cifar10.yaml`` shortened
(burn-in 400 steps, side-trips of 100 steps from step 300, one seed, two-point averaging),
CIFAR-10 next to CIFAR-100, in a scratch directory. Real CIFAR is used when ``--cifar-dir`` holds
``cifar-10-batches-py/`` and ``cifar-100-python/``; otherwise a learnable stand-in of the same
size and format is written (the device machine has no network): timings are then real, the
figure's numbers are not CIFAR's.

Results: a table on stdout, ``device_check.json``, fig10 and the job logs under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fixtures writes the CIFAR stand-in

from lrtraj import averaging  # noqa: E402
from lrtraj.compute import Compute, resolve_device  # noqa: E402
from lrtraj.config import read_yaml  # noqa: E402
from lrtraj.models import build_model  # noqa: E402
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop  # noqa: E402


# ------------------------------------------------------------------------------ part 1
class ReplayStream:
    """``pool`` batches resident on the device, replayed by step (no host-to-device copies)."""

    def __init__(self, batch: int, size: int, classes: int, pool: int, device: torch.device):
        gen = torch.Generator(device=device).manual_seed(0)
        self.x = [
            torch.randn(batch, 3, size, size, generator=gen, device=device) for _ in range(pool)
        ]
        self.y = [
            torch.randint(0, classes, (batch,), generator=gen, device=device) for _ in range(pool)
        ]

    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        for s in range(start, stop):
            yield s, self.x[s % len(self.x)], self.y[s % len(self.y)]


class Stopwatch:
    """A step callback: synchronises the device and reads the clock at two steps."""

    def __init__(self, device: torch.device, first: int, last: int) -> None:
        self.device, self.first, self.last = device, first, last
        self.times: dict[int, float] = {}

    def __call__(self, step: int, _model: Any = None) -> None:
        if step in (self.first, self.last):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.times[step] = time.perf_counter()

    def images_per_second(self, batch: int) -> float:
        return (self.last - self.first) * batch / (self.times[self.last] - self.times[self.first])


def fresh_model(args: argparse.Namespace, compute: Compute, device: torch.device) -> nn.Module:
    model = build_model(args.model, 3, 1000, seed=0)
    return compute.place(model, device)


def bare(args, compute: Compute, stream: ReplayStream, device: torch.device) -> float:
    model = fresh_model(args, compute, device)
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


def engine(args, compute: Compute, stream: ReplayStream, device: torch.device) -> float:
    model = fresh_model(args, compute, device)
    opt = make_optimizer(model, {"momentum": 0.9}, 0.1)
    tensors = averaging.averaged_tensors(model)
    averagers = {
        "ema": averaging.EMA(0.999, tensors),
        "two_point": averaging.two_point(args.warmup + args.steps, args.steps // 2, tensors),
    }
    watch = Stopwatch(device, args.warmup, args.warmup + args.steps)
    sgd_loop(
        model,
        opt,
        stream,
        RunInfo("sidetrip", 0, 0, "constant", "baseline", "baseline"),
        start=0,
        stop=watch.last,
        lr_at=lambda _s: 0.1,
        settings=LoopSettings(eval_every=10**9, log_every=50, compute=compute),
        averagers=averagers,
        callbacks=[watch],
    )
    return watch.images_per_second(args.batch_size)


def throughput(args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    fast = {"channels_last": True, "autocast": "bf16", "cudnn_benchmark": True}
    stream = ReplayStream(args.batch_size, args.image_size, 1000, 4, device)
    contenders: dict[str, Callable[[], float]] = {
        "bare_eager": lambda: bare(args, Compute(**fast), stream, device),
        "engine_eager": lambda: engine(args, Compute(**fast), stream, device),
    }
    if args.compile:
        contenders["bare_compiled"] = lambda: bare(
            args, Compute(**fast, compile=True), stream, device
        )
        contenders["engine_compiled"] = lambda: engine(
            args, Compute(**fast, compile=True), stream, device
        )
    out = {}
    for name, run in contenders.items():
        start = time.perf_counter()
        out[name] = run()
        print(
            f"  {name:16s} {out[name]:9.1f} img/s  ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    return out


# ------------------------------------------------------------------------------ part 2
def short_cifar_overlay(data_dir: Path, smoke: bool) -> dict[str, Any]:
    """config/cifar10.yaml with every length cut to fit a device check (CIFAR-100 as variant)."""
    cfg = read_yaml(ROOT / "config" / "cifar10.yaml")
    branch = 300
    cfg["data"]["data_dir"] = str(data_dir)
    cfg["trajectory"].update(steps=400, checkpoint_every=100, eval_every=200, log_every=50)
    cfg["sidetrips"] = {
        "branch_steps": [branch],
        "steps": 100,
        "data_seeds": [0],
        "eval_every": 20,
        "checkpoint_every": 100,
        # every family, not just two-point: Snakemake merges this mapping into the default's
        "averaging": {"ema": {"beta": 0.95}, "two_point": {"k": 40}, "swa": {"n": 3, "c": 20}},
        "linear_decay": False,
    }
    cfg["evaluation"].update(bn_batches=4)
    cfg["twins"] = {"branch_step": 100, "steps": 200, "data_seeds": [1, 2], "snapshot_every": 100}
    cfg["probes"] = {
        "sweep": {"checkpoints": [200], "batch_sizes": [512]},
        "fig2": {"checkpoint": 200, "batch_size": 512},
        "fixed_batch": {
            "branch_steps": [200, 300],
            "batch_size": 512,
            "steps": 20,
            "record_every": 10,
        },
        "alignment": {"branch_step": 200, "steps": 40, "measure_every": 20},
    }
    for fig in cfg["figures"].values():
        if "branch_step" in fig:
            fig["branch_step"] = branch
        if fig.get("family"):
            fig["family"] = "two_point"
    cfg["variants"] = {"digits_noise1.5": None, "cifar100": {"data": {"name": "cifar100"}}}
    cfg["resources"] = {}
    if smoke:  # the same DAG, planned only
        cfg["device"] = "cpu"
    return cfg


def cifar_data(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    real = args.cifar_dir
    if real and (real / "cifar-10-batches-py").is_dir() and (real / "cifar-100-python").is_dir():
        return real.resolve(), "real CIFAR-10/100"
    from tests.fixtures import write_cifar

    root = scratch / "cifar_standin"
    n_train, n_test = (50_000, 10_000) if not args.smoke else (500, 100)
    write_cifar(root, 10, n_train, n_test, seed=0, learnable=True)
    write_cifar(root, 100, n_train, n_test, seed=1, learnable=True)
    return root, "learnable stand-in of CIFAR's size and format (no CIFAR on this machine)"


def pipeline(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import yaml

    data_dir, data_kind = cifar_data(args, scratch)
    overlay = scratch / "cifar_short.yaml"
    overlay.write_text(yaml.safe_dump(short_cifar_overlay(data_dir, args.smoke)))
    workdir = scratch / "work"
    workdir.mkdir()
    target = "results/figures/fig10.pdf"
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(args.cores),
        f"--configfile={overlay}",
        target,
    ]
    if args.smoke:
        cmd.insert(1, "-n")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    result: dict[str, Any] = {"data": data_kind, "wall_s": round(wall, 1), "rc": proc.returncode}
    if args.out:
        (args.out / "pipeline.log").write_text(proc.stdout + proc.stderr)
        for sub in ("logs", "benchmarks"):
            if (workdir / sub).is_dir():
                shutil.copytree(workdir / sub, args.out / sub, dirs_exist_ok=True)
        if (workdir / target).is_file():
            shutil.copy(workdir / target, args.out / "fig10.pdf")
    if proc.returncode != 0:
        print((proc.stdout + proc.stderr)[-3000:])
        return result
    bench = {}
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        lines = tsv.read_text().splitlines()
        bench[str(tsv.relative_to(workdir / "benchmarks"))] = float(lines[1].split("\t")[0])
    result["job_seconds"] = bench
    from lrtraj.sidetrips import summarize

    finals = []
    for exp_dir in sorted((workdir / "results").glob("*/sidetrips")):
        table = summarize(sorted(exp_dir.rglob("*.parquet")), ["test"])
        # the families fig10 ran (the others have averages but no schedule run)
        loss = table[table["metric"] == "loss"].dropna(subset=["schedule"])
        for row in loss[["family", "baseline", "average", "schedule"]].to_dict("records"):
            finals.append({"experiment": exp_dir.parent.name, **row})
    result["final_test_loss"] = finals
    return result


# ------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for device_check.json, fig10, logs")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run: the script works")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--model", default="resnet34")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--cifar-dir", type=Path, default=ROOT / "data" / "cifar")
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    args = parser.parse_args()
    if args.smoke:
        args.batch_size, args.image_size, args.warmup, args.steps = 2, 32, 1, 2
        args.model, args.compile, args.cores, args.device = "resnet18", False, 1, "cpu"
    device = resolve_device(args.device)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    report: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "model": args.model,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
    }
    print(f"# {name}, torch {torch.__version__}, {args.model}, batch {args.batch_size}")
    print("part 1: images/s (bf16 autocast, channels_last, cudnn.benchmark)")
    rates = throughput(args, device)
    report["images_per_second"] = rates
    for kind in ("eager", "compiled"):
        if f"bare_{kind}" in rates:
            ratio = rates[f"engine_{kind}"] / rates[f"bare_{kind}"]
            report[f"engine_vs_bare_{kind}"] = ratio
            print(f"  engine / bare ({kind}): {ratio:.3f}  (goal >= 0.9)")
    if not args.skip_pipeline:
        print("part 2: fig10 DAG, CIFAR-10 + CIFAR-100, shortened", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            report["pipeline"] = pipeline(args, Path(tmp))
        print(json.dumps(report["pipeline"], indent=1))
    if args.out:
        (args.out / "device_check.json").write_text(json.dumps(report, indent=1))
    if report.get("pipeline", {}).get("rc", 0) != 0:
        sys.exit("part 2 failed: see the output above (and pipeline.log under --out)")


if __name__ == "__main__":
    main()
