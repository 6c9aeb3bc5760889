"""Integration: the real Snakemake DAG on a tiny config, in a temporary working directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from lrtraj import config as lrconfig
from lrtraj.averaging import FAMILIES as REGISTRY
from lrtraj.metrics import TRAINING_COLUMNS, read_provenance
from lrtraj.schedules import sidetrip_methods

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
TARGETS = [
    "results/figures/fig5.pdf",
    "results/figures/fig1.pdf",
    "results/figures/table1.md",
    "results/tiny/sidetrips/summary.md",
    "results/figures/fig6.pdf",
    "results/figures/fig8.pdf",
    "results/figures/fig10.pdf",
    "results/figures/fig14.pdf",
    "results/claims.md",
    "results/figures/claims.pdf",
    "results/config.yaml",
]

pytestmark = pytest.mark.integration

# What the tiny config's side-trips consist of: expected counts follow from it (and from the
# averaging registry), so adding an averaging family needs no edit here.
TINY_CFG = lrconfig.load(TINY)
FAMILIES = set(TINY_CFG["sidetrips"]["averaging"])
METHODS = sidetrip_methods(
    TINY_CFG["sidetrips"]["averaging"], TINY_CFG["sidetrips"]["linear_decay"]
)
SEEDS = len(TINY_CFG["sidetrips"]["data_seeds"])


def snakemake(
    workdir: Path,
    *args: str,
    configs: tuple[Path, ...] = (TINY,),
    check: bool = True,
    repo: Path = REPO,
    env: dict[str, str] | None = None,
):
    # --configfile takes several files (later ones override), so it goes last: placed before
    # the targets it would swallow them as config files
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",
        *map(str, configs),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(proc) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    lines = (proc.stdout + proc.stderr).splitlines()
    if not any(line.startswith("Job stats") for line in lines):
        return {}
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats")) + 3
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def planned_files(proc, field: str = "output") -> dict[str, set[str]]:
    """Rule -> every path of `field` (input, output, log) over its jobs in a dry run."""
    files: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if head:
            found = re.search(rf"^\s+{field}: (.*)$", block, flags=re.M)
            paths = found.group(1).split(", ") if found else []
            files.setdefault(head.group(1), set()).update(paths)
    return files


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("dag")
    snakemake(workdir, *TARGETS)
    return workdir


def test_figures_and_tables_are_built_with_captions_and_provenance(run):
    figures = run / "results" / "figures"
    for name in ("fig5", "fig1", "fig6", "fig8", "fig10", "fig14"):
        assert (figures / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert (figures / f"{name}.png").stat().st_size > 10_000
        sidecar = json.loads((figures / f"{name}.json").read_text())
        caption = sidecar["caption"]
        assert len(caption) > 80 and any(ch.isdigit() for ch in caption)  # measured numbers
        inputs = sidecar["provenance"]["inputs"]
        assert inputs and all(len(h) == 64 for h in inputs.values())
    fig5_inputs = json.loads((figures / "fig5.json").read_text())["provenance"]["inputs"]
    assert len(fig5_inputs) == SEEDS * len(METHODS)  # constant, schedules, linear decay
    table = (figures / "table1.md").read_text()
    assert "EMA" in table and "SWA" in table
    deviations = pd.read_csv(figures / "table1.csv").filter(like="deviation").to_numpy()
    assert deviations.shape == (5, 2) and (deviations < 1e-12).all()
    assert "\\begin{tabular}" in (figures / "table1.tex").read_text()


def test_metrics_follow_the_documented_schema(run):
    files = sorted((run / "results").rglob("*.parquet"))
    training = [f for f in files if f.parent.name.startswith("seed") or f.parent.name == "burn_in"]
    # 2 burn-ins (tiny, tiny_noise); side-trips: all methods per seed + 2 x 2 of tiny_noise;
    # 2 twins
    assert len(training) == 2 + SEEDS * len(METHODS) + 2 * 2 + 2
    for path in training:
        df = pd.read_parquet(path)
        assert list(df.columns) == list(TRAINING_COLUMNS)
        assert set(df["metric"]) == {"loss", "accuracy"}
        prov = read_provenance(path)
        assert prov["rule"] in {"burn_in", "sidetrip", "twin"} and "git_commit" in prov
    constant = pd.read_parquet(run / "results/tiny/sidetrips/branch60/seed0/constant.parquet")
    assert set(constant["kind"]) == {"baseline", "average"}
    assert set(constant.loc[constant["kind"] == "average", "method"]) == FAMILIES
    summary = pd.read_parquet(run / "results/tiny/sidetrips/summary.parquet")
    assert set(summary["family"]) == FAMILIES
    twins = pd.read_parquet(run / "results/tiny/twins/distances.parquet")
    assert set(twins["measure"]) == {"plain", "scale_invariant"}
    assert sorted(twins["step"].unique()) == [20, 30, 40, 50, 60]
    final = twins[twins["step"] == 60]
    assert (final["distance"] > 0).all()  # B's endpoint is not A's
    dist = pd.read_parquet(run / "results/tiny/sidetrips/branch60/distances.parquet")
    assert set(dist["comparison"]) == {"average_vs_schedule", "average_vs_constant", "independent"}


def test_up_to_date_dag_has_nothing_to_do(run):
    proc = snakemake(run, "-n", *TARGETS)
    assert planned_jobs(proc) == {}


def test_a_plotting_key_reruns_only_that_figure(run, tmp_path):
    overlay = tmp_path / "split.yaml"
    overlay.write_text(yaml.safe_dump({"figures": {"fig5": {"branch_step": 60, "split": "train"}}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, overlay)))
    jobs.pop("effective_config", None)  # the record of the whole config changes with any key
    assert jobs == {"fig5": 1}


def test_a_sidetrip_key_reruns_only_what_reads_it(run, tmp_path):
    overlay = tmp_path / "beta.yaml"
    overlay.write_text(yaml.safe_dump({"sidetrips": {"averaging": {"ema": {"beta": 0.8}}}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, overlay)))
    # the constant run carries the EMA, plus the EMA's schedule, for each of the 2 seeds
    assert jobs.get("sidetrip") == 4 and "burn_in" not in jobs and "table1" not in jobs


def test_a_burn_in_key_reruns_everything_downstream(run, tmp_path):
    overlay = tmp_path / "lr.yaml"
    overlay.write_text(yaml.safe_dump({"trajectory": {"lr": 0.05}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, overlay)))
    sidetrips = SEEDS * len(METHODS) + 2 * 2  # and the 2 x 2 of tiny_noise
    assert jobs.get("burn_in") == 2 and jobs.get("sidetrip") == sidetrips and jobs.get("twin") == 2


def test_probes_ask_for_one_task_and_one_gpu_when_training_runs_as_ranks(tmp_path):
    overlay = tmp_path / "ranks.yaml"
    overlay.write_text("distributed: {ranks: 2}\nresources: {gpus: 2}\n")
    proc = snakemake(
        tmp_path, "-n", "results/tiny/probes/alignment.parquet", configs=(TINY, overlay)
    )
    asked, rule = {}, None
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("rule "):
            rule = line.removeprefix("rule ").rstrip(":")
        elif line.strip().startswith("resources:") and rule:
            asked[rule] = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
    assert asked["burn_in"]["tasks"] == "2" and asked["burn_in"]["gpus"] == "2"
    assert "tasks" not in asked["probe_alignment"] and asked["probe_alignment"]["gpus"] == "1"


# Bad inputs (issue 19's list among them), each as the YAML text of an overlay on the tiny
# config, and the message that must name the key. Run for real, not as a dry run: the refusal
# must come before any job starts.
BAD_CONFIGS = {
    "negative lr": ("trajectory: {lr: -0.1}", "trajectory.lr"),
    "unknown key": ("trajectory: {stepz: 5}", "'stepz' was unexpected"),
    "text for a number": ("sidetrips: {steps: many}", "sidetrips.steps"),
    "k not a multiple": ("sidetrips: {averaging: {two_point: {k: 15}}}", "two_point.k: 15 is not"),
    "experiment '..'": ("experiment: '..'", "experiment: '..' does not match"),
    "variant '..'": ("variants: {'..': {}}", "variants: '..' does not match"),
    "experiment named as its variant": ("experiment: tiny_noise", "share the name"),
    "NaN lr": ("trajectory: {lr: .nan}", "trajectory.lr: nan is not a finite number"),
    "NaN momentum": ("optimizer: {momentum: .nan}", "optimizer.momentum: nan is not a finite"),
    "inf weight decay": ("optimizer: {weight_decay: .inf}", "optimizer.weight_decay: inf is not"),
    "-inf noise": ("data: {noise_sigma: -.inf}", "data.noise_sigma: -inf is not a finite"),
    "NaN EMA beta": (
        "sidetrips: {averaging: {ema: {beta: .nan}}}",
        "sidetrips.averaging.ema.beta: nan is not a finite",
    ),
    "NaN side-trip lr": ("sidetrips: {lr: .nan}", "sidetrips.lr: nan is not a finite"),
    "duplicate key": ("trajectory:\n  lr: 0.1\n  lr: 0.2", "bad.yaml: duplicate key 'lr'"),
    "negative memory": ("resources: {mem_mb: -5}", "resources.mem_mb: -5 is less than"),
    "10^12 steps": ("trajectory: {steps: 1000000000000}", "trajectory.steps: 1000000000000 is"),
    "tasks not ranks": (
        "distributed: {ranks: 2}\nresources: {tasks: 3}",
        "resources.tasks: 3 is neither distributed.ranks=2",
    ),
    "GPUs not ranks": (
        "distributed: {ranks: 2}\nresources: {gpus: 1}",
        "resources.gpus: 1 GPUs for distributed.ranks=2",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_config_stops_before_any_job_naming_the_key(tmp_path, case):
    text, message = BAD_CONFIGS[case]
    (tmp_path / "bad.yaml").write_text(text + "\n")
    sentinel = tmp_path / "results" / "kept.parquet"  # what an earlier run computed
    sentinel.parent.mkdir()
    sentinel.write_bytes(b"computed")
    proc = snakemake(tmp_path, "--cores", "1", configs=(TINY, tmp_path / "bad.yaml"), check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert [p.name for p in (tmp_path / "results").rglob("*")] == ["kept.parquet"]
    assert sentinel.read_bytes() == b"computed" and not (tmp_path / "logs").exists()


def test_a_cuda_device_this_host_lacks_stops_before_any_job(tmp_path):
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    (tmp_path / "bad.yaml").write_text(f"device: 'cuda:{count}'\n")
    proc = snakemake(tmp_path, "--cores", "1", configs=(TINY, tmp_path / "bad.yaml"), check=False)
    assert proc.returncode != 0
    assert f"device: 'cuda:{count}' but this host has" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_paper_scale_plans_without_data_and_fails_naming_the_path(tmp_path):
    imagenet = REPO / "config" / "imagenet.yaml"
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/figures/fig5.pdf", configs=(imagenet,)))
    trips = lrconfig.load(imagenet)["sidetrips"]
    per_seed = len(sidetrip_methods(trips["averaging"], trips["linear_decay"]))
    assert jobs == {"burn_in": 1, "sidetrip": per_seed * len(trips["data_seeds"]), "fig5": 1}
    proc = snakemake(
        tmp_path, "results/imagenet/burn_in/metrics.parquet", configs=(imagenet,), check=False
    )
    assert proc.returncode != 0
    assert not (tmp_path / "results" / "imagenet" / "burn_in" / "metrics.parquet").exists()
    if not torch.cuda.is_available():  # device: cuda is refused before any job runs here
        assert "device: 'cuda' but this host has 0 CUDA device(s)" in proc.stderr + proc.stdout
        assert not (tmp_path / "logs").exists()
        return
    log = (tmp_path / "logs" / "imagenet" / "burn_in.log").read_text()
    assert "data/imagenet/train" in log and "data.data_dir" in log


def test_scorecard_computes_what_is_built_and_says_not_built_otherwise(run):
    card = pd.read_parquet(run / "results" / "claims.parquet")
    assert set(card["verdict"]) <= {"pass", "fail", "inconclusive", "not built"}
    built = card[card["verdict"] != "not built"]
    assert built["effect"].notna().all() and built["value"].notna().all()
    scored = {f.claim for name, f in REGISTRY.items() if name in FAMILIES and f.claim}
    assert scored | {"4", "6a", "6b", "7a", "7b", "8"} <= set(built["claim"])
    # tidy: one row per data seed of a side-trip claim, the claim's columns repeated
    four = card[card["claim"] == "4"]
    assert len(four) == SEEDS and four["n"].eq(SEEDS).all() and four["effect"].nunique() == 1
    assert "fig10" in set(card["figure"])  # the second experiment's two-point claim
    assert card.loc[card["claim"] == "8", "verdict"].item() == "pass"  # exact on the model
    assert (run / "results" / "figures" / "claims.png").stat().st_size > 0


def test_a_claims_margin_reruns_only_the_scorecard(run, tmp_path):
    overlay = tmp_path / "margin.yaml"
    overlay.write_text(yaml.safe_dump({"claims": {"cone_margin": 0.3}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, configs=(TINY, overlay)))
    jobs.pop("effective_config", None)
    assert jobs == {"claims": 1, "claims_figure": 1}


def test_audit_traces_a_figure_to_the_burn_in_and_names_a_changed_input(run):
    from lrtraj.audit import audit

    tree = audit("results/figures/fig5.pdf", run)
    assert tree.problems() == [] and tree.rule == "fig5"
    leaves = {c.children[0].path: c.children[0].rule for c in tree.children}
    assert leaves == {"results/tiny/burn_in/checkpoints/step60.pt": "burn_in"}
    cli = [sys.executable, "-m", "lrtraj.cli", "audit", "results/figures/fig5.pdf", "--json"]
    ok = subprocess.run(cli, cwd=run, capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    victim = run / "results/tiny/sidetrips/branch60/seed1/constant.parquet"
    original = victim.read_bytes()
    try:
        victim.write_bytes(original + b"tampered")
        bad = subprocess.run(cli[:-1], cwd=run, capture_output=True, text=True)
        assert bad.returncode != 0
        assert "results/tiny/sidetrips/branch60/seed1/constant.parquet: changed" in bad.stderr
    finally:
        victim.write_bytes(original)


def test_report_holds_figures_captions_scorecard_and_config(run):
    import zipfile

    snakemake(run, *TARGETS, "--report", "report.zip")
    with zipfile.ZipFile(run / "report.zip") as archive:
        html = archive.read("report/report.html").decode()
        names = " ".join(archive.namelist())
    for expected in ("fig5.pdf", "fig8.pdf", "claims.md", "config.yaml"):
        assert expected in html or expected in names, expected
    assert "Reproduction scorecard" in html or "claims.md" in names
    # each figure's static caption includes the values measured for it (its .caption.rst)
    measured = json.loads((run / "results/figures/fig5.json").read_text())["caption"]
    built = list((run / "results").rglob("*.caption.rst"))
    assert html.count("Measured:") == len(built) > 0 and measured.split(" — ")[1][:40] in html


def test_a_variant_figure_is_drawn_from_the_variants_own_runs_and_config(run, tmp_path):
    # tiny_noise's burn-in and side-trips exist (fig10 reads them): only its figure job runs
    target = "results/tiny_noise/figures/fig5.pdf"
    assert planned_jobs(snakemake(run, "-n", target)) == {"fig5": 1}
    snakemake(run, target)
    sidecar = json.loads((run / target).with_suffix(".json").read_text())
    inputs = sidecar["provenance"]["inputs"]
    variant = lrconfig.experiments(TINY_CFG)["tiny_noise"]["sidetrips"]
    methods = sidetrip_methods(variant["averaging"], variant["linear_decay"])
    assert len(inputs) == len(variant["data_seeds"]) * len(methods)
    assert all(path.startswith("results/tiny_noise/sidetrips/") for path in inputs)
    assert (run / "logs/tiny_noise/figures/fig5.log").exists()
    # a key of the variant's own section reruns its figure, not the default's
    overlay = tmp_path / "variant.yaml"
    fig5 = {"branch_step": 60, "split": "train"}
    overlay.write_text(yaml.safe_dump({"variants": {"tiny_noise": {"figures": {"fig5": fig5}}}}))
    jobs = planned_jobs(snakemake(run, "-n", *TARGETS, target, configs=(TINY, overlay)))
    jobs.pop("effective_config", None)
    assert jobs == {"fig5": 1}
    assert planned_jobs(snakemake(run, "-n", *TARGETS)) == {}  # the default's are untouched


# Last: it deletes a side-trip output (a failed job leaves nothing that looks complete).
def test_corrupt_checkpoint_fails_the_sidetrip_by_name(run):
    ckpt = run / "results/tiny/burn_in/checkpoints/step60.pt"
    original = ckpt.read_bytes()
    target = "results/tiny/sidetrips/branch60/seed1/linear_decay.parquet"
    try:
        ckpt.write_bytes(original[: len(original) // 2])
        proc = snakemake(
            run, target, "--forcerun", "sidetrip", "--allowed-rules", "sidetrip", check=False
        )
        assert proc.returncode != 0
        log = (run / "logs/tiny/sidetrips/branch60/seed1/linear_decay.log").read_text()
        assert "step60.pt does not match its recorded sha256" in log
        assert not (run / target).exists()  # no output that looks complete
    finally:
        ckpt.write_bytes(original)


def test_a_code_change_reruns_the_rules_that_run_it_and_the_audit_says_stale(tmp_path):
    # a scratch clone of the working tree, its package first on the path: free to edit
    clone, work = tmp_path / "clone", tmp_path / "work"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    plugin = REPO / "plugins" / "snakemake-executor-plugin-submitit" / "src"
    env = {**os.environ, "PYTHONPATH": f"{clone / 'src'}{os.pathsep}{plugin}"}
    work.mkdir()

    def planned(*edits: tuple[str, str]) -> dict[str, int]:
        for module, text in edits:
            path = clone / "src" / "lrtraj" / module
            path.write_text(path.read_text() + text)
        return planned_jobs(snakemake(work, "-n", target, repo=clone, env=env))

    def audit():
        cli = [sys.executable, "-m", "lrtraj.cli", "audit", target]
        return subprocess.run(cli, cwd=work, env=env, capture_output=True, text=True)

    target = "results/figures/lemma1.pdf"
    snakemake(work, target, repo=clone, env=env)
    assert planned() == {} and audit().returncode == 0
    # a comment, or a module the quadratic rules do not run: nothing to do
    assert planned(("plots/quadratic/lemma1.py", "# reworded\n")) == {}
    assert planned(("plots/sidetrips.py", "\nEDITED = True\n")) == {}
    # code of the figure's module: its figure reruns, not the simulation it reads
    assert planned(("plots/quadratic/lemma1.py", "\nEDITED = True\n")) == {"quadratic_figure": 1}
    stale = audit()
    assert stale.returncode != 0
    assert f"{target}: stale: built at " in stale.stderr
    assert "lrtraj.plots.quadratic.lemma1" in stale.stderr and "simulate" not in stale.stderr
    assert "results/quadratic/lemma1.parquet  [ok]" in stale.stdout
