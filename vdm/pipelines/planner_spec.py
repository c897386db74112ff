"""Resolve a planner from a spec string, so :mod:`vdm` never imports a planner package itself.

A spec names a planner in a saved pipeline folder (``model_index.json``: ``planner_spec`` and
``planner_kwargs``), a training config or on the command line. A folder from someone else is data, so a spec
is only resolved from the **registry** of known planners:

* the project's own: ``dysen:RuleBasedPlanner`` and ``dysen:LLMPlanner`` (lazy ``"module:attr"`` strings:
  :mod:`dysen` is imported only when one is used);
* any that a program registers in code with :func:`register_planner` (a factory or a lazy ``"module:attr"``).

Any other ``"module:attr"`` would import a module and call one of its attributes with keyword arguments read
from the file, which is running code chosen by whoever wrote the file. That needs ``trust_remote_code=True``
(as in ``transformers``); without it :class:`UntrustedPlannerError` names the spec and how to allow it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from dsg import Planner

__all__ = [
    "DEFAULT_PLANNER",
    "PlannerSpecError",
    "UntrustedPlannerError",
    "check_planner_spec",
    "load_planner",
    "register_planner",
    "registered_planners",
    "unregister_planner",
]

DEFAULT_PLANNER = "dysen:RuleBasedPlanner"

Factory = Callable[..., Any]

_BUILTIN: dict[str, str] = {
    "dysen:RuleBasedPlanner": "dysen.rule_based.planner:RuleBasedPlanner",
    "dysen:LLMPlanner": "dysen.llm.planner:LLMPlanner",
}
_registry: dict[str, Factory | str] = dict(_BUILTIN)
_lock = threading.Lock()


class PlannerSpecError(ValueError):
    """A planner spec does not name an importable planner."""


class UntrustedPlannerError(PlannerSpecError):
    """A spec names a planner that is not registered, and running arbitrary code was not allowed.

    Attributes:
        spec: the spec string.
    """

    def __init__(self, spec: str, origin: str = "") -> None:
        self.spec = spec
        where = f" (from {origin})" if origin else ""
        super().__init__(
            f"cannot load planner {spec!r}{where} without trust: it is not a registered planner, and loading it "
            f"would import and run code named by the file. Registered planners: {', '.join(registered_planners())}. "
            "To allow it, register it in code with vdm.pipelines.register_planner(name, factory), or pass "
            "trust_remote_code=True (command line: --trust-remote-code) if you trust whoever wrote it."
        )


def register_planner(name: str, factory: Factory | str, *, overwrite: bool = False) -> None:
    """Make ``name`` usable as a planner spec (in pipeline folders, configs, ``--planner``).

    Args:
        name: the spec string (``"mypkg:MyPlanner"`` or any short name).
        factory: a callable returning a :class:`dsg.Planner` (called with the spec's keyword arguments), or a lazy
            ``"module:attr"`` string imported on first use.
        overwrite: replace an existing registration (the built-in ones cannot be replaced).
    """
    if not isinstance(name, str) or not name.strip():
        raise PlannerSpecError(f"a planner name must be a non-empty string, got {name!r}")
    if isinstance(factory, str):
        _split(factory)
    elif not callable(factory):
        raise PlannerSpecError(f"planner factory for {name!r} must be callable or a 'module:attr' string")
    with _lock:
        if name in _BUILTIN and _registry.get(name) != factory:
            raise PlannerSpecError(f"{name!r} is a built-in planner and cannot be replaced")
        if name in _registry and not overwrite and _registry[name] != factory:
            raise PlannerSpecError(f"planner {name!r} is already registered (pass overwrite=True to replace it)")
        _registry[name] = factory


def unregister_planner(name: str) -> None:
    """Remove a registration made with :func:`register_planner` (built-in planners stay)."""
    with _lock:
        if name not in _BUILTIN:
            _registry.pop(name, None)


def registered_planners() -> list[str]:
    """The names :func:`load_planner` resolves without ``trust_remote_code``."""
    with _lock:
        return sorted(_registry)


def _split(spec: str) -> tuple[str, str]:
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise PlannerSpecError(f"planner spec must look like 'package.module:Class', got {spec!r}")
    return mod_name, attr


def check_planner_spec(spec: object, *, trust_remote_code: bool = False, origin: str = "") -> None:
    """Raise :class:`UntrustedPlannerError` (or :class:`PlannerSpecError`) if :func:`load_planner` would refuse
    ``spec``; imports nothing. ``origin`` names where the spec was read (shown in the error)."""
    if not isinstance(spec, str):
        raise PlannerSpecError(f"a planner spec must be a string, got {type(spec).__name__}")
    with _lock:
        known = spec in _registry
    if known:
        return
    _split(spec)
    if not trust_remote_code:
        raise UntrustedPlannerError(spec, origin)


def _factory(spec: str, trust_remote_code: bool, origin: str) -> Factory:
    check_planner_spec(spec, trust_remote_code=trust_remote_code, origin=origin)
    with _lock:
        target: Factory | str = _registry.get(spec, spec)
    if not isinstance(target, str):
        return target
    mod_name, attr = _split(target)
    try:
        return getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PlannerSpecError(f"cannot load planner {spec!r}: {exc}") from exc


def load_planner(
    spec: str | Planner = DEFAULT_PLANNER, *, trust_remote_code: bool = False, origin: str = "", **kwargs: Any
) -> Planner:
    """A planner from its spec (``kwargs`` go to its factory); a planner object passes through.

    Only registered specs (see the module docstring) resolve unless ``trust_remote_code=True``. The result
    must satisfy :class:`dsg.Planner` (``schedule(text)`` and ``plan(text)``).

    Raises:
        UntrustedPlannerError: ``spec`` is not registered and ``trust_remote_code`` is false.
        PlannerSpecError: ``spec`` is malformed, cannot be imported, or does not make a planner.
    """
    obj = _factory(spec, trust_remote_code, origin)(**kwargs) if isinstance(spec, str) else spec
    if not isinstance(obj, Planner):
        raise PlannerSpecError(f"{type(obj).__name__} is not a planner: it needs schedule(text) and plan(text)")
    return obj
