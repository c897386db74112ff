"""dysen — the dynamic scene manager of Dysen-VDM (paper §4.1): text -> event schedule -> enriched DSG.

Planners (all implement :class:`dsg.Planner`):

* :class:`RuleBasedPlanner` — offline default: spaCy parse + temporal-connective rules + rule-based imagination.
* :class:`LLMPlanner` — the paper's three steps with a chat model (OpenAI or any OpenAI-compatible server,
  a local ``transformers`` model, or a record/replay cassette), in-context demonstrations chosen by a
  selector (random, nearest neighbour, or a REINFORCE-trained policy), sliding-window imagination and a
  global polish.

Corpus annotation: :func:`annotate`. Everything heavy (spaCy, openai, transformers, torch) is imported on
first use, so ``import dysen`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    BackendError,
    CassetteMissError,
    ConfigurationError,
    DemonstrationError,
    DysenError,
    DysenInputError,
    ModelNotFoundError,
    ResponseValidationError,
)

__version__ = "0.1.0"

_LAZY = {
    "RuleBasedPlanner": "dysen.rule_based.planner",
    "load_nlp": "dysen.nlp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dysen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BackendError",
    "CassetteMissError",
    "ConfigurationError",
    "DemonstrationError",
    "DysenError",
    "DysenInputError",
    "ModelNotFoundError",
    "ResponseValidationError",
    "RuleBasedPlanner",
    "load_nlp",
]
