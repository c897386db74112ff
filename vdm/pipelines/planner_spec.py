"""Resolve a planner from a ``"module:Class"`` spec, so :mod:`vdm` never imports a planner package itself."""

from __future__ import annotations

import importlib
from typing import Any

from dsg import Planner

__all__ = ["DEFAULT_PLANNER", "PlannerSpecError", "load_planner"]

DEFAULT_PLANNER = "dysen:RuleBasedPlanner"


class PlannerSpecError(ValueError):
    """A planner spec does not name an importable planner."""


def load_planner(spec: str | Planner = DEFAULT_PLANNER, **kwargs: Any) -> Planner:
    """``"package.module:Class"`` -> an instance (``kwargs`` go to its constructor); a planner passes through.

    The result must satisfy :class:`dsg.Planner` (``schedule(text)`` and ``plan(text)``).
    """
    if not isinstance(spec, str):
        obj = spec
    else:
        mod_name, _, attr = spec.partition(":")
        if not mod_name or not attr:
            raise PlannerSpecError(f"planner spec must look like 'package.module:Class', got {spec!r}")
        try:
            factory = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PlannerSpecError(f"cannot load planner {spec!r}: {exc}") from exc
        obj = factory(**kwargs)
    if not isinstance(obj, Planner):
        raise PlannerSpecError(f"{type(obj).__name__} is not a planner: it needs schedule(text) and plan(text)")
    return obj
