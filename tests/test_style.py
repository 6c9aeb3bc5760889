"""Style gates run with the tests: ruff, snakefmt, snakemake --lint."""

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


def test_snakemake_lint_is_clean():
    proc = run(sys.executable, "-m", "snakemake", "--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
