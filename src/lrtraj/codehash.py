"""Which package code a rule runs, as a digest per module, so that reruns follow the code.

A rule's ``script:`` imports some ``lrtraj`` modules, which import others. ``modules(script)``
follows those imports (read from the source, nothing is imported) and digests each module of
the closure; the workflow passes the result as the rule's ``code`` param (``code_of`` in the
``Snakefile``). Snakemake reruns a job whose params changed, so editing
``lrtraj/plots/quadratic/`` reruns the quadratic figures and nothing else, and every artifact
records in its provenance the module digests it was built from, which ``lrtraj audit``
compares with the code installed now (``stale``).

A digest is taken over the module's syntax tree without docstrings: comments, docstrings and
formatting do not rerun a multi-day job. Imports inside functions count (a lazy import is
still code the rule may run). The script itself is Snakemake's to track (its mtime).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "lrtraj"
# where ``lrtraj`` lives: the directory holding the package (src/ or site-packages)
_ROOT = Path(str(importlib.resources.files(PACKAGE))).parent
# hex digits kept per module: change detection, not security, and params stay readable
DIGEST_CHARS = 16


def module_file(name: str) -> Path | None:
    """Source file of module ``name`` (``lrtraj.x.y``), or None if there is none."""
    base = _ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:]
    return tree


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imported(name: str, path: Path, tree: ast.AST) -> set[str]:
    """``lrtraj`` modules that ``tree`` imports (absolute or relative, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                parts = _package_of(name, path).split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # `from pkg import sub` imports a submodule when sub is one
            found |= {f"{base}.{alias.name}" for alias in node.names}
    ours = {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}
    return {m for m in ours if module_file(m) is not None}


def _dynamic(tree: ast.AST) -> bool:
    """Whether a module finds modules at run time (``importlib.import_module``,
    ``pkgutil.iter_modules``): a registry such as ``lrtraj.averaging``'s families."""
    return any(
        isinstance(node, ast.Attribute | ast.Name)
        and getattr(node, "attr", getattr(node, "id", None)) in ("import_module", "iter_modules")
        for node in ast.walk(tree)
    )


def _below(package: str) -> set[str]:
    """Every module under ``package``'s directory (what a run-time registry may import)."""
    base = _ROOT.joinpath(*package.split("."))
    return {
        ".".join(f.relative_to(_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for f in base.rglob("*.py")
    }


def _analyse(name: str, path: Path, source: bytes) -> tuple[str, list[str]]:
    tree = ast.parse(source, filename=str(path))
    imports = _imported(name, path, tree)
    if _dynamic(tree):
        imports |= _below(_package_of(name, path))
    text = ast.dump(_strip_docstrings(tree), include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS], sorted(imports - {name})


class _Cache:
    """(digest, imports) per module source, in memory and in a JSON file: every Snakemake
    start (and, on a cluster, every job) parses the workflow, and parsing the package's
    syntax trees takes about a second. Keyed by the module's name and bytes, so a checkout
    that only touches mtimes costs nothing; written atomically, a lost race loses entries."""

    def __init__(self) -> None:
        cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.path = cache_home / "lrtraj" / "codehash-v1.json"
        self.entries: dict[str, list[Any]] | None = None
        self.dirty = False

    def get(self, name: str, path: Path) -> tuple[str, list[str]]:
        if self.entries is None:
            try:
                self.entries = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self.entries = {}
        source = path.read_bytes()
        key = hashlib.sha256(name.encode() + b"\0" + source).hexdigest()
        if key not in self.entries:
            self.entries[key] = list(_analyse(name, path, source))
            self.dirty = True
        digest, imports = self.entries[key]
        return digest, imports

    def save(self) -> None:
        if not self.dirty or self.entries is None:
            return
        from lrtraj import atomic

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self.path, json.dumps(self.entries))
        except OSError:  # a read-only home: only this process goes without the cache
            return
        self.dirty = False


_CACHE = _Cache()


def _module(name: str, path: Path) -> tuple[str, list[str]]:
    return _CACHE.get(name, path)


def _with_parents(names: Iterable[str]) -> set[str]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too."""
    out: set[str] = set()
    for name in names:
        parts = name.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return out


def digests(names: Iterable[str]) -> dict[str, str | None]:
    """Current digest of each module (None for one that no longer exists)."""
    out: dict[str, str | None] = {}
    for name in sorted(names):
        path = module_file(name)
        out[name] = _module(name, path)[0] if path else None
    return out


def modules(script: str | Path) -> dict[str, str]:
    """Digest of every ``lrtraj`` module that ``script`` imports, directly or not, by name."""
    tree = ast.parse(Path(script).read_bytes(), filename=str(script))
    todo = _with_parents(_imported("__main__", Path(script), tree))
    seen: dict[str, str] = {}
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        digest, imports = _module(name, path)
        seen[name] = digest
        todo |= _with_parents(imports) - seen.keys()
    _CACHE.save()
    return dict(sorted(seen.items()))


def changed(recorded: Mapping[str, str]) -> list[str]:
    """Modules of a ``modules()`` record whose code differs now (or that are gone)."""
    now = digests(recorded)
    _CACHE.save()
    return [name for name, digest in recorded.items() if now[name] != digest]
