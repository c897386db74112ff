"""The JSON answers of the three steps: pydantic models (validation) and strict JSON schemas (structured output).

Every model answer is validated against these models before it touches a DSG; nothing in an answer is
ever executed or ``eval``-ed. Limits on sizes keep a runaway or hostile answer from producing huge graphs.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ResponseValidationError

__all__ = [
    "AttributeOut",
    "EntityOut",
    "EventOut",
    "PlanAnswer",
    "PolishAnswer",
    "RelationOut",
    "SceneAnswer",
    "SegmentOut",
    "extract_json",
    "strict_schema",
    "validate_answer",
]

MAX_NAME = 80
MAX_ITEMS = 64
MAX_ANSWER_CHARS = 200_000

Name = Field(min_length=1, max_length=MAX_NAME)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class EntityOut(_Strict):
    name: str = Name
    attributes: list[str] = Field(max_length=16)


class EventOut(_Strict):
    agent: str = Name
    predicate: str = Name
    target: str | None = Field(max_length=MAX_NAME)
    start: int = Field(ge=0)
    end: int = Field(ge=1)


class PlanAnswer(_Strict):
    """Step I: entities with attributes and events with intervals in units of v."""

    entities: list[EntityOut] = Field(max_length=MAX_ITEMS)
    events: list[EventOut] = Field(min_length=1, max_length=MAX_ITEMS)


class RelationOut(_Strict):
    subject: str = Name
    predicate: str = Name
    object: str | None = Field(max_length=MAX_NAME)


class AttributeOut(_Strict):
    entity: str = Name
    attribute: str = Name


class SceneAnswer(_Strict):
    """Step III, round 1: the complete enriched scene graph of one segment."""

    relations: list[RelationOut] = Field(max_length=MAX_ITEMS)
    attributes: list[AttributeOut] = Field(max_length=MAX_ITEMS)


class SegmentOut(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=1)
    relations: list[RelationOut] = Field(max_length=MAX_ITEMS)
    attributes: list[AttributeOut] = Field(max_length=MAX_ITEMS)


class PolishAnswer(_Strict):
    """Step III, round 2: the polished DSG as consecutive segments covering all frames."""

    segments: list[SegmentOut] = Field(min_length=1, max_length=256)


_UNSUPPORTED = ("title", "default", "maxLength", "minLength", "maxItems", "minItems", "minimum", "maximum")


@functools.cache
def _strict_schema_json(model: type[BaseModel]) -> str:
    return json.dumps(_strict(model))


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A JSON schema of ``model`` for OpenAI strict structured output (a fresh copy; computed once per model)."""
    return json.loads(_strict_schema_json(model))


def _strict(model: type[BaseModel]) -> dict[str, Any]:
    """A JSON schema of ``model`` for OpenAI strict structured output: every property required, no extra
    properties, no keywords strict mode rejects (sizes are checked by validation instead)."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: clean(v) for k, v in node.items() if k not in _UNSUPPORTED}
            if out.get("type") == "object" and "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return clean(copy.deepcopy(model.model_json_schema()))


def extract_json(text: str) -> Any:
    """The first JSON object in a model answer: the whole text, a fenced code block, or an object surrounded
    by prose. Raises :class:`ResponseValidationError` (never anything else) when there is none."""
    if not isinstance(text, str):
        raise ResponseValidationError("the answer is not text")
    if len(text) > MAX_ANSWER_CHARS:
        raise ResponseValidationError(f"the answer is too long ({len(text)} characters)")
    s = text.strip()
    if not s:
        raise ResponseValidationError("the answer is empty")
    try:
        return json.loads(s)
    except (json.JSONDecodeError, RecursionError):
        pass
    decoder = json.JSONDecoder()
    pos = s.find("{")
    tries = 0
    while pos != -1 and tries < 200:
        try:
            obj, _ = decoder.raw_decode(s, pos)
        except (json.JSONDecodeError, RecursionError):
            tries += 1
            pos = s.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            return obj
        pos = s.find("{", pos + 1)
    if "{" in s:
        raise ResponseValidationError("the answer's JSON object is malformed or incomplete (truncated output?)")
    raise ResponseValidationError("the answer contains no JSON object")


M = TypeVar("M", bound=BaseModel)


def validate_answer(text: str, model: type[M]) -> M:
    """Parse and validate an answer; errors are :class:`ResponseValidationError` with up to five field paths."""
    data = extract_json(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(x) for x in err["loc"]) or "(root)"
            parts.append(f"{loc}: {err['msg']}")
        more = "" if exc.error_count() <= 5 else f" (and {exc.error_count() - 5} more)"
        raise ResponseValidationError(f"the JSON does not follow the schema: {'; '.join(parts)}{more}") from None
