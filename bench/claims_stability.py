"""Verdict stability of the scorecard: the default run on N seed sets, each claim's verdict and
effect per set (docs/claims.md, "Stability").

    PYTHONPATH=src .venv/bin/python bench/claims_stability.py --sets 1 2 3 4 5 [--config FILE]
    PYTHONPATH=src .venv/bin/python bench/claims_stability.py --sets 1 2 --score-only

Seed set k (k ≥ 1) changes every seed of the config (data split, evaluation noise, init, the
trajectory's batch order, side-trip, twin and probe seeds, BatchNorm batches, the quadratic
simulations) by a fixed offset chosen before any result was seen: ``seed + 100·k`` (the
side-trip and twin seed lists keep their length). Set 0 is the config as shipped. Each set runs
the DAG up to the scorecard and its figure (``snakemake claims_figure``) from a snapshot of
the committed code (``git archive HEAD``) in ``--workdir/<config>/set<k>`` — so the run's
numerics do not move while the working tree is edited — and is then scored in-process with
the working tree's scorecard. Finished sets are not rerun (``--score-only`` scores only what
exists; delete a set's ``done`` and the ``code`` snapshot to bring it to newer code: only jobs
whose params changed rerun). Not a test: one default set takes 8–9 min on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
OFFSET = 100

# (dotted key, kind): "int" shifts one seed, "list" shifts every seed of a list
SEED_KEYS = [
    ("data.split_seed", "int"),
    ("data.eval_noise_seed", "int"),
    ("model.init_seed", "int"),
    ("trajectory.data_seed", "int"),
    ("sidetrips.data_seeds", "list"),
    ("twins.data_seeds", "list"),
    ("evaluation.bn_seed", "int"),
    ("probes.batch_seed", "int"),
    ("probes.heldout_seed", "int"),
    ("probes.alignment.data_seeds", "list"),
    ("quadratic.seed", "int"),
]


def _get(cfg: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(cfg, dict) or part not in cfg:
            return None
        cfg = cfg[part]
    return cfg


def seed_overlay(cfg: dict, k: int) -> dict:
    """The overlay of seed set ``k``: each seed key of ``cfg`` shifted by ``OFFSET·k``."""
    overlay: dict = {}
    for dotted, kind in SEED_KEYS:
        value = _get(cfg, dotted)
        if value is None:
            continue
        new = [int(v) + OFFSET * k for v in value] if kind == "list" else int(value) + OFFSET * k
        node = overlay
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = new
    return overlay


def merged_config(config: Path | None) -> dict:
    from lrtraj.config import DEFAULT_CONFIG, read_yaml

    cfg = read_yaml(DEFAULT_CONFIG)
    if config is not None:
        from snakemake.utils import update_config

        update_config(cfg, read_yaml(config))
    return cfg


def run_set(code: Path, workdir: Path, overlays: list[Path], cores: int) -> int:
    """The DAG up to the scorecard and its figure for one seed set; its return code."""
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), "--snakefile", str(code / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", str(cores), "--rerun-incomplete", "--quiet", "rules"]
    # a set rerun on newer code reruns what its params (config, module digests) say changed;
    # Snakemake's own "code" trigger also fires for a snapshot in another folder
    cmd += ["--rerun-triggers", "mtime", "params", "input"]
    cmd += ["--configfile", *map(str, overlays), "--", "claims_figure"]
    plugin = code / "plugins/snakemake-executor-plugin-submitit/src"
    env = {**os.environ, "PYTHONPATH": f"{code / 'src'}:{plugin}"}
    with open(workdir / "bench.log", "a") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def snapshot(dest: Path) -> Path:
    if not (dest / "Snakefile").is_file():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, nargs="+", required=True)
    ap.add_argument(
        "--config", type=Path, default=None, help="overlay, e.g. config/fashion_mnist.yaml"
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/claims_stability"))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the per-set table (Markdown)")
    args = ap.parse_args()
    name = args.config.stem if args.config else "default"
    base = args.workdir / name
    code = snapshot(args.workdir / "code") if not args.score_only else args.workdir / "code"
    cfg = merged_config(args.config)
    rows = []
    for k in args.sets:
        work = base / f"set{k}"
        work.mkdir(parents=True, exist_ok=True)
        overlay = work / "seeds.yaml"
        overlay.write_text(yaml.safe_dump(seed_overlay(cfg, k)))
        overlays = ([ROOT / args.config] if args.config else []) + [overlay]
        if not args.score_only and not (work / "done").is_file():
            rc = run_set(code, work, overlays, args.cores)
            print(f"set {k}: snakemake rc {rc}", flush=True)
            if rc == 0:
                (work / "done").write_text("ok\n")
        if (work / "done").is_file():
            rows.append(score_set(work, overlays, k))
    if rows:
        table = pd.concat(rows, ignore_index=True)
        wide = table.pivot_table(
            index="claim", columns="set", values="cell", aggfunc="first", sort=True
        )
        text = wide.to_markdown()
        print(text)
        if args.out:
            args.out.write_text(text + "\n")


def score_set(work: Path, overlays: list[Path], k: int) -> pd.DataFrame:
    """Score one finished set with the working tree's scorecard."""
    from snakemake.utils import update_config

    from lrtraj.config import DEFAULT_CONFIG, read_yaml

    cfg = read_yaml(DEFAULT_CONFIG)
    for path in overlays:
        update_config(cfg, read_yaml(path))
    card = scorecard_of(work, cfg)
    card = card.drop_duplicates("claim")
    cell = card["verdict"] + " " + card["effect"].map(lambda v: f"{v:.3g}")
    return pd.DataFrame({"claim": card["claim"], "set": k, "cell": cell})


def scorecard_of(work: Path, cfg: dict) -> pd.DataFrame:
    """The working tree's scorecard of a finished run directory (the claims rule's inputs)."""
    from lrtraj.analysis.claims import scorecard
    from lrtraj.analysis.probe_claims import probe_claims

    exp = cfg["experiment"]
    res, quad = work / "results" / exp, work / "results" / "quadratic"
    one = {
        "sidetrip_summary": res / "sidetrips/summary.parquet",
        "twin_distances": res / "twins/distances.parquet",
        "lemma1": quad / "lemma1.parquet",
        "fast_slow": quad / "fast_slow.parquet",
        "burn_in": res / "burn_in/metrics.parquet",
        "probe_interpolation": res / "probes/fixed_batch/interpolation.parquet",
        "probe_alignment": res / "probes/alignment.parquet",
    }
    inputs = {key: [str(path)] for key, path in one.items()}
    steps = cfg["probes"]["sweep"]["checkpoints"]
    inputs["probe_sweep"] = [str(res / f"probes/sweep/step{s}.parquet") for s in steps]
    others = [e for e in cfg["figures"]["fig10"]["experiments"] if e != exp]
    fig10 = {e: str(work / "results" / e / "sidetrips/summary.parquet") for e in others}
    settings = {**cfg["claims"], "experiment": exp}
    return scorecard(inputs, settings, fig10=fig10, probe_claims=probe_claims)


if __name__ == "__main__":
    main()
