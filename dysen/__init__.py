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
    "LLMPlanner": "dysen.llm.planner",
    "annotate": "dysen.annotation",
    "load_nlp": "dysen.nlp",
    "OpenAIChatModel": "dysen.chat",
    "TransformersChatModel": "dysen.chat",
    "CassetteChatModel": "dysen.chat",
    "CachedChatModel": "dysen.chat",
    "ResponseCache": "dysen.chat",
    "ChatModel": "dysen.chat",
    "ChatRequest": "dysen.chat",
    "ChatResponse": "dysen.chat",
    "UsageMeter": "dysen.chat",
    "DemoPool": "dysen.demos",
    "Demonstration": "dysen.demos",
    "default_pool": "dysen.demos",
    "load_pool": "dysen.demos",
    "save_pool": "dysen.demos",
    "RandomSelector": "dysen.selection",
    "NearestNeighbourSelector": "dysen.selection",
    "PolicySelector": "dysen.selection",
    "TextEncoder": "dysen.selection",
    "train_policy": "dysen.selection",
    "evaluate_planner": "dysen.evaluation",
    "load_planner_gold": "dysen.evaluation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dysen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BackendError",
    "CachedChatModel",
    "CassetteChatModel",
    "CassetteMissError",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "ConfigurationError",
    "DemoPool",
    "Demonstration",
    "DemonstrationError",
    "DysenError",
    "DysenInputError",
    "LLMPlanner",
    "ModelNotFoundError",
    "NearestNeighbourSelector",
    "OpenAIChatModel",
    "PolicySelector",
    "RandomSelector",
    "ResponseCache",
    "ResponseValidationError",
    "RuleBasedPlanner",
    "TextEncoder",
    "TransformersChatModel",
    "UsageMeter",
    "annotate",
    "default_pool",
    "evaluate_planner",
    "load_nlp",
    "load_planner_gold",
    "load_pool",
    "save_pool",
    "train_policy",
]
