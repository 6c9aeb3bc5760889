"""A built wheel carries what the package reads (schema, default config), found with
importlib.resources, and the workflow plans its DAG with that install instead of src/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = ("lrtraj/config.yaml", "lrtraj/config.schema.yaml", "lrtraj/py.typed")

pytestmark = pytest.mark.integration


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(map(str, cmd)), cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from a copy of the working tree (no build outputs left in it),
    installed into a directory of its own."""
    root = tmp_path_factory.mktemp("install")
    tree = root / "tree"
    files = _run("git", "ls-files", "-co", "--exclude-standard", cwd=REPO).split()
    for name in files:
        if (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", tree, cwd=root)
    (wheel,) = (root / "dist").glob("lrtraj-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert set(PACKAGE_DATA) <= names
        # one source of truth: the wheel's data are the files the checkout reads
        for name in PACKAGE_DATA:
            assert archive.read(name) == (REPO / "src" / name).read_bytes()
    _run(*pip, "install", "--no-deps", "--target", root / "site", wheel, cwd=root)
    return root / "site"


def _env(site: Path) -> dict[str, str]:
    # the installed copy first: it shadows src/ and any editable install of the checkout
    plugin = REPO / "plugins" / "snakemake-executor-plugin-submitit" / "src"
    return {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{plugin}"}


def test_installed_package_loads_its_config_from_package_data(installed, tmp_path):
    probe = (
        "import importlib.resources as r, lrtraj.config as c; "
        "print(c.__file__); print(c.DEFAULT_CONFIG); "
        "assert (r.files('lrtraj') / 'config.schema.yaml').is_file(); "
        "print(c.load()['experiment'])"
    )
    out = _run(sys.executable, "-c", probe, cwd=tmp_path, env=_env(installed)).splitlines()
    module, default, experiment = out[-3:]
    assert module.startswith(str(installed)) and default.startswith(str(installed))
    assert experiment == "digits"
    overlay = REPO / "config" / "cifar10.yaml"
    cli = (sys.executable, "-m", "lrtraj.cli", "check-config", overlay)
    assert _run(*cli, cwd=tmp_path, env=_env(installed)).startswith(f"ok: {installed}")


def test_workflow_plans_with_the_installed_package(installed, tmp_path):
    cmd = [sys.executable, "-m", "snakemake", "-s", REPO / "Snakefile", "-n"]
    cmd += ["--directory", tmp_path, "--configfile", REPO / "tests" / "configs" / "tiny.yaml"]
    out = _run(*cmd, cwd=tmp_path, env=_env(installed))
    assert "burn_in" in out and "quadratic_figure" in out and "This was a dry-run" in out


def test_conda_environment_installs_what_the_makefile_installs():
    """environment.yml is the Makefile's install in a conda env: conda brings Python and pip
    only, its pip section the same pinned torch/torchvision, the package with its dev extras
    and the executor plugin (one list of dependencies: pyproject.toml)."""
    import re

    import yaml

    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert {re.split(r"[=<>]", d)[0] for d in conda} == {"python", "pip"}
    makefile = (REPO / "Makefile").read_text()
    torch_pins = re.search(r"^TORCH := (.+)$", makefile, re.M).group(1).split()
    plugin = re.search(r"^PLUGIN := (.+)$", makefile, re.M).group(1)
    assert pip == [*torch_pins, "-e .[dev]", f"./{plugin}"]
    (python,) = [d for d in conda if d.startswith("python")]
    minor = int(python.split("=")[1].split(".")[1])
    requires = re.search(
        r'requires-python = ">=3\.(\d+),<3\.(\d+)"', (REPO / "pyproject.toml").read_text()
    )
    assert int(requires.group(1)) <= minor < int(requires.group(2))
