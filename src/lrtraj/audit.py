"""Audit an artifact: walk its provenance back to the burn-in and the config, re-hash inputs.

Every artifact carries a provenance record (``provenance.collect``): Parquet files in their
key-value metadata, figures in a ``.json`` sidecar (and the PDF metadata), everything else
(checkpoints, weights, tables) in a ``<file>.prov.json`` sidecar. Each record lists its inputs
with the sha256 they had when the artifact was built; the audit re-hashes them now and follows
each input's own record, so a figure is traced to the burn-in checkpoints and config it came
from, and any input missing or changed since is named. An artifact whose rule ran package code
that differs now (the digests of its ``code`` param, ``lrtraj.codehash``) is ``stale``: named
with the modules that changed and the commit it was built at. A training run's metrics file
that records diverged runs (``metrics.read_diverged``) names them on its line;
``Node.divergences`` lists those among all of an artifact's inputs (news, not a problem).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrtraj import codehash
from lrtraj.divergence import Diverged
from lrtraj.metrics import read_diverged, read_provenance
from lrtraj.provenance import sha256_file

SIDECAR_SUFFIX = ".prov.json"


def sidecar_path(path: str | Path) -> Path:
    return Path(str(path) + SIDECAR_SUFFIX)


def provenance_of(path: str | Path) -> dict[str, Any] | None:
    """The provenance record stored with ``path``, or None if it has none."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_provenance(path) or None
    candidates = [sidecar_path(path)]
    if path.suffix in (".pdf", ".png"):
        candidates.insert(0, path.with_suffix(".json"))
    for candidate in candidates:
        if candidate.is_file():
            record = json.loads(candidate.read_text())
            return record.get("provenance", record)
    return None


@dataclass
class Node:
    path: str
    status: str  # "ok", "missing", "changed", "stale", "unreadable", "no provenance"
    rule: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    params_sha256: str | None = None
    finished: str | None = None
    stale_modules: list[str] = field(default_factory=list)
    # runs in this metrics file that diverged (``metrics.divergences`` records)
    diverged: list[dict[str, Any]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def divergences(self) -> list[Diverged]:
        """The diverged runs in this artifact and its inputs, each once, in tree order."""
        own = [Diverged.of(run, self.path) for run in self.diverged]
        found = own + [d for child in self.children for d in child.divergences()]
        return list(dict.fromkeys(found))

    def problems(self) -> list[str]:
        bad = ("missing", "changed", "unreadable")
        own = [f"{self.path}: {self.status}"] if self.status in bad else []
        if self.stale_modules:
            own.append(
                f"{self.path}: stale: built at {_commit(self.git_commit, self.git_dirty)} by "
                f"code that differs in the checkout now ({_commit(*_current_commit())}): "
                + ", ".join(self.stale_modules)
            )
        return own + [p for child in self.children for p in child.problems()]

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.__dict__.items() if k != "children"},
            "children": [c.to_dict() for c in self.children],
        }


def _commit(commit: str | None, dirty: bool | None) -> str:
    return (commit or "?")[:10] + ("+dirty" if dirty else "")


@functools.cache
def _current_commit() -> tuple[str | None, bool | None]:
    from lrtraj.provenance import code_version

    now = code_version()
    return now["git_commit"], now["git_dirty"]


def audit(path: str | Path, root: str | Path = ".", expected_sha256: str | None = None) -> Node:
    """The provenance tree of ``path`` (paths in records are relative to ``root``)."""
    root = Path(root)
    full = root / path
    if not full.is_file():
        return Node(str(path), "missing")
    status = "ok"
    if expected_sha256 is not None and sha256_file(full) != expected_sha256:
        status = "changed"
    try:
        record = provenance_of(full)
    except Exception:  # a damaged file: its own record is unreadable, the hash already says so
        record = None
        status = "changed" if status == "changed" else "unreadable"
    if record is None:
        return Node(str(path), status if status != "ok" else "no provenance")
    node = Node(
        str(path),
        status,
        rule=record.get("rule"),
        git_commit=record.get("git_commit"),
        git_dirty=record.get("git_dirty"),
        params_sha256=record.get("params_sha256"),
        finished=record.get("finished"),
    )
    if full.suffix == ".parquet":
        node.diverged = read_diverged(full) or []
    code = (record.get("params") or {}).get("code")
    if isinstance(code, dict) and code:
        node.stale_modules = codehash.changed(code)
        if node.stale_modules and status == "ok":
            node.status = "stale"
    for child, digest in sorted(record.get("inputs", {}).items()):
        node.children.append(audit(child, root, digest))
    return node


def render(node: Node, prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
    """A tree drawing, one line per artifact: status, rule, code version, config hash."""
    commit = _commit(node.git_commit, node.git_dirty)
    info = f"[{node.status}]"
    if node.rule:
        info += f" rule {node.rule} @ {commit}, params {str(node.params_sha256)[:12]}"
    if node.diverged:
        info += " diverged: " + ", ".join(Diverged.of(run).short() for run in node.diverged)
    branch = "" if top else ("└── " if last else "├── ")
    lines = [f"{prefix}{branch}{node.path}  {info}"]
    child_prefix = prefix + ("" if top else ("    " if last else "│   "))
    for i, child in enumerate(node.children):
        lines += render(child, child_prefix, i == len(node.children) - 1, top=False)
    return lines
