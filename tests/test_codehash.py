"""Which package code a rule runs: the module digests behind each rule's `code` param."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lrtraj import codehash

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"


@pytest.fixture
def package(tmp_path, monkeypatch) -> Path:
    """A scratch copy of the package that the digests are taken from, free to edit."""
    shutil.copytree(REPO / "src" / "lrtraj", tmp_path / "lrtraj")
    monkeypatch.setattr(codehash, "_ROOT", tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(codehash, "_CACHE", codehash._Cache())
    return tmp_path / "lrtraj"


def test_a_script_runs_what_it_imports_and_what_that_imports(package):
    figure = codehash.modules(SCRIPTS / "quadratic_figure.py")
    assert {"lrtraj.plots.quadratic.lemma1", "lrtraj.plots.style", "lrtraj.runtime"} <= set(figure)
    assert {"lrtraj", "lrtraj.plots"} <= set(figure)  # parent packages run on import
    assert not {"lrtraj.train.loop", "lrtraj.plots.sidetrips"} & set(figure)
    # the averaging families are found at run time (pkgutil): all of them count
    trip = codehash.modules(SCRIPTS / "sidetrip.py")
    assert {"lrtraj.train.loop", "lrtraj.averaging.families.ema"} <= set(trip)


def test_editing_code_changes_that_modules_digest_only(package):
    before = codehash.modules(SCRIPTS / "quadratic_figure.py")
    lemma1 = package / "plots" / "quadratic" / "lemma1.py"
    lemma1.write_text(lemma1.read_text() + "\nPANEL_DPI = 300\n")
    after = codehash.modules(SCRIPTS / "quadratic_figure.py")
    assert {m for m in before if before[m] != after[m]} == {"lrtraj.plots.quadratic.lemma1"}
    assert codehash.changed(before) == ["lrtraj.plots.quadratic.lemma1"]
    assert codehash.changed(after) == []


def test_comments_docstrings_and_layout_do_not_count(package):
    before = codehash.modules(SCRIPTS / "quadratic_figure.py")
    lemma1 = package / "plots" / "quadratic" / "lemma1.py"
    source = lemma1.read_text()
    lemma1.write_text('"""Reworded."""\n# a comment\n\n\n' + source.split('"""', 2)[2])
    assert codehash.changed(before) == []


def test_a_module_gone_is_changed_and_new_imports_join_the_closure(package):
    before = codehash.modules(SCRIPTS / "quadratic_figure.py")
    common = package / "plots" / "quadratic" / "common.py"
    common.write_text(common.read_text() + "\nfrom lrtraj import distances  # noqa: F401\n")
    assert "lrtraj.distances" in codehash.modules(SCRIPTS / "quadratic_figure.py")
    (package / "plots" / "style.py").unlink()
    assert "lrtraj.plots.style" in codehash.changed(before)


def test_digests_are_cached_on_disk_for_the_next_process(package):
    first = codehash.modules(SCRIPTS / "burn_in.py")
    fresh = codehash._Cache()
    assert fresh.path.is_file()
    name, path = "lrtraj.runtime", package / "runtime.py"
    fresh.get(name, path)
    assert not fresh.dirty  # found, not parsed again
    assert fresh.get(name, path)[0] == first[name]


def test_every_rule_passes_the_code_of_its_own_script():
    import re

    rules = 0
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text())[1:]:
            name = block.split(":", 1)[0].removeprefix("rule ")
            script = re.search(r'(?m)^    script:\n        "\.\./scripts/([\w.]+)"', block)
            assert script, f"{smk.name}: rule {name} runs no script"
            assert f'code=code_of("{script.group(1)}")' in block, f"{smk.name}: rule {name}"
            rules += 1
    assert rules >= 20
