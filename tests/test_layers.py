"""The package's layers: analysis, plots and the averaging registry import no torch (the
workflow plans its DAG with them, and figures must not depend on training code)."""

import subprocess
import sys

import pytest

TORCH_FREE = [
    "lrtraj.averaging",
    "lrtraj.analysis.sidetrips",
    "lrtraj.analysis.probes",
    "lrtraj.analysis.claims",
    "lrtraj.analysis.probe_claims",
    "lrtraj.plots.sidetrips",
    "lrtraj.plots.probes",
    "lrtraj.plots.twins",
    "lrtraj.plots.tables",
    "lrtraj.config",
    "lrtraj.schedules",
]


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_imports_without_torch(module):
    code = f"import sys, {module}; sys.exit('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"{module} imports torch (or fails): {proc.stderr[-2000:]}"
