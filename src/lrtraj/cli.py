"""``lrtraj`` command line: small utilities around the workflow.

lrtraj prepare-fashion-mnist [--source DIR] [--dest DIR]
lrtraj check-config FILE [FILE ...]
lrtraj synthetic-cifar DEST [--classes 10|100] [--train N] [--test N] [--seed S]
lrtraj plan [--configfile FILE ...] [--forceall] TARGET [TARGET ...]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

from lrtraj import config as lrconfig

FASHION_MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def prepare_fashion_mnist(source: Path, dest: Path) -> Path:
    """Gunzip the four IDX files into torchvision's layout ``<dest>/FashionMNIST/raw/``.

    Debian's ``dataset-fashion-mnist`` package ships them gzipped under
    ``/usr/share/datasets/fashion-mnist``; torchvision reads them uncompressed.
    """
    raw = dest / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FASHION_MNIST_FILES:
        gz = source / f"{name}.gz"
        if not gz.is_file():
            raise FileNotFoundError(f"Fashion-MNIST file not found: {gz}")
        tmp = raw / f".{name}.tmp"
        with gzip.open(gz) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(raw / name)
    return raw


def _audit(artifact: Path, root: Path, as_json: bool) -> int:
    import json

    from lrtraj.audit import audit, render

    tree = audit(artifact, root)
    problems = tree.problems()
    # news, not a provenance problem: the exit status does not change
    diverged = [run.line() for run in tree.divergences()]
    if as_json:
        print(
            json.dumps(
                {
                    "artifact": str(artifact),
                    "ok": not problems,
                    "problems": problems,
                    "diverged": diverged,
                    "tree": tree.to_dict(),
                },
                indent=2,
            )
        )
    else:
        print("\n".join(render(tree)))
        if diverged:
            print(f"{len(diverged)} diverged run(s) among its inputs:")
            print("\n".join(diverged))
        for problem in problems:
            print(f"lrtraj audit: {problem}", file=sys.stderr)
        if tree.status == "no provenance":
            print(f"lrtraj audit: {artifact} carries no provenance record", file=sys.stderr)
    return 1 if problems or tree.status != "ok" else 0


def _plan(args: argparse.Namespace) -> int:
    from lrtraj import plan
    from lrtraj.throughput import ThroughputError

    try:
        _, text = plan.preview(
            args.configfile,
            args.targets,
            forceall=args.forceall,
            directory=args.directory,
            throughput=args.throughput,
        )
    except (plan.PlanError, ThroughputError) as err:
        print(f"lrtraj plan: {err}", file=sys.stderr)
        return 2
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lrtraj", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fm = sub.add_parser("prepare-fashion-mnist", help="unpack Fashion-MNIST for torchvision")
    fm.add_argument("--source", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    fm.add_argument("--dest", type=Path, default=Path("data/fashion_mnist"))
    aud = sub.add_parser(
        "audit", help="trace an artifact to its inputs; non-zero exit if any changed or is gone"
    )
    aud.add_argument("artifact", type=Path)
    aud.add_argument("--root", type=Path, default=Path("."), help="workflow working directory")
    aud.add_argument("--json", action="store_true", help="machine-readable tree")
    chk = sub.add_parser("check-config", help="validate overlays merged on the default config")
    chk.add_argument("files", nargs="+", type=Path)
    pl = sub.add_parser("plan", help="jobs, steps, images and GPU-hours a target would cost")
    pl.add_argument("targets", nargs="+", help="Snakemake targets, e.g. results/figures/fig10.pdf")
    pl.add_argument("--configfile", action="append", default=[], type=Path, help="repeatable")
    pl.add_argument("--forceall", action="store_true", help="cost the whole target from scratch")
    pl.add_argument("--directory", type=Path, help="workflow working directory (--directory)")
    pl.add_argument(
        "--throughput",
        action="append",
        default=[],
        type=Path,
        help="throughput table or device_check.json overriding the committed one (repeatable)",
    )
    syn = sub.add_parser(
        "synthetic-cifar", help="write a learnable synthetic CIFAR in CIFAR's on-disk format"
    )
    syn.add_argument("dest", type=Path, help="data_dir to write (cifar-10-batches-py/ inside)")
    syn.add_argument("--classes", type=int, choices=[10, 100], default=10)
    syn.add_argument("--train", type=int, default=5000, help="training images")
    syn.add_argument("--test", type=int, default=200, help="test images")
    syn.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args)
        if args.command == "audit":
            return _audit(args.artifact, args.root, args.json)
        if args.command == "prepare-fashion-mnist":
            print(prepare_fashion_mnist(args.source, args.dest))
        elif args.command == "synthetic-cifar":
            from lrtraj.synthetic import write_cifar

            root = write_cifar(
                args.dest, args.classes, args.train, args.test, args.seed, learnable=True
            )
            print(root)
        elif args.command == "check-config":
            lrconfig.load(*args.files)
            print("ok: " + " + ".join([str(lrconfig.DEFAULT_CONFIG), *map(str, args.files)]))
    except (FileNotFoundError, lrconfig.ConfigError) as err:
        print(f"lrtraj: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
