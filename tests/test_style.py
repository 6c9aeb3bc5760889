"""Style gates run with the tests: ruff, snakefmt, snakemake --lint."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PY_PATHS = ["src", "tests", "bench", "workflow/scripts", "plugins"]


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize(
    "cmd",
    [
        ["ruff", "check", *PY_PATHS],
        ["ruff", "format", "--check", *PY_PATHS],
        ["snakefmt", "--check", "Snakefile", "workflow/rules"],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_linters_are_clean(cmd):
    proc = run(str(BIN / cmd[0]), *cmd[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Rules run in the environment that runs Snakemake (README, Install: no per-rule conda envs),
# so the one lint allowed is Snakemake's request for a conda: or container: directive.
SOFTWARE_LINT = "Specify a conda environment or container for each rule."


def test_snakemake_lint_is_clean():
    proc = run(sys.executable, "-m", "snakemake", "--lint")
    out = proc.stdout + proc.stderr
    lints = set(re.findall(r"^ +\* (.+):$", out, flags=re.M))
    assert proc.returncode == 0 or lints == {SOFTWARE_LINT}, out
