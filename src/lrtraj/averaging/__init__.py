"""Registry of weight-averaging families: one module each under ``lrtraj.averaging.families``.

A family is everything the pipeline needs to know about one way of averaging a side-trip's
iterates (docs/theory.md §2): the JSON schema of its parameters, the window spans that must fit
the side-trip, its kernel over ``w_0 .. w_T`` (from which ``schedules.tail_sum`` derives its
equivalent learning-rate schedule), its online averager, its label and colour, and the
scorecard row that scores it. Rules, side-trip methods, figures, claims and the config schema
all read this registry, so adding a family is one new module in ``families/`` (found by
``pkgutil``, no list to edit) and an entry under ``sidetrips.averaging`` in the config.

This module and the family modules import no torch: the workflow plans its DAG with them.
Averagers import torch only when built.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrtraj.schedules import tail_sum

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Family:
    """One averaging family. ``params`` below are its entry under ``sidetrips.averaging``."""

    name: str  # the key in config, the ``family`` column of the metrics, the method prefix
    label: str  # how figures and tables name it
    color: str  # its colour in every figure (colour-blind-safe, unique across families)
    schema: Mapping[str, Any]  # JSON schema of ``params``
    kernel: Callable[[int, Params], np.ndarray]  # weights of w_0 .. w_T, summing to 1
    # online averager: (params, evaluation period, tensors at the branch point) -> Averager
    averager: Callable[[Params, int, list[Any]], Any]
    # windows (name -> steps) that must fit in the side-trip and be multiples of its
    # evaluation period (an average is only evaluated at evaluation steps)
    spans: Callable[[Params], dict[str, int]] = lambda params: {}
    claim: str | None = None  # id of its scorecard row ("3a" ...), None if it is not scored

    def schedule(self, params: Params, T: int, lr: float) -> np.ndarray:
        """Its equivalent schedule: lr of side-trip steps ``0 .. T-1`` (Lemma 2)."""
        return tail_sum(self.kernel(T, params), lr)


def _discover() -> dict[str, Family]:
    from lrtraj.averaging import families

    found: dict[str, Family] = {}
    for info in sorted(pkgutil.iter_modules(families.__path__), key=lambda m: m.name):
        family = getattr(
            importlib.import_module(f"{families.__name__}.{info.name}"), "FAMILY", None
        )
        if not isinstance(family, Family):
            continue
        for other in found.values():
            if family.name == other.name or (family.claim and family.claim == other.claim):
                raise RuntimeError(f"averaging families {info.name} and {other.name} collide")
        found[family.name] = family
    return found


FAMILIES: dict[str, Family] = _discover()


def get(name: str) -> Family:
    """The family called ``name``; a clear error naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(
            f"unknown averaging family {name!r} (known: {', '.join(FAMILIES)})"
        ) from None


def make_averager(name: str, params: Params, every: int, tensors: list[Any]) -> Any:
    """The online averager of family ``name``, started at ``tensors`` (the branch point)."""
    return get(name).averager(params, every, tensors)
