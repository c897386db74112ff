"""Requests, responses and the chat-model protocol every backend implements."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import DysenInputError

__all__ = ["ChatModel", "ChatRequest", "ChatResponse", "Usage", "request_key"]

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request, independent of any backend.

    Args:
        messages: ``({"role": ..., "content": ...}, ...)``, roles ``system``/``user``/``assistant``.
        temperature: sampling temperature (0 = greedy where the backend allows it).
        max_tokens: upper bound on generated tokens.
        json_schema: JSON schema the answer must follow; backends that support structured output
            enforce it, the others rely on the prompt (which always states the schema too).
        schema_name: short name of the schema (structured output needs one).
        seed: sampling seed for backends that accept one.
        tag: free label of the pipeline step (``"plan"``, ``"imagine[2]"``); not sent to the model and not
            part of the cache key.
    """

    messages: tuple[Mapping[str, str], ...]
    temperature: float = 0.0
    max_tokens: int = 1024
    json_schema: Mapping[str, Any] | None = None
    schema_name: str = "answer"
    seed: int | None = None
    tag: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        msgs = tuple(self.messages)
        if not msgs:
            raise DysenInputError("messages", msgs, "at least one message is needed")
        for i, m in enumerate(msgs):
            if not isinstance(m, Mapping) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                raise DysenInputError(f"messages[{i}]", m, f"must be {{'role': one of {_ROLES}, 'content': str}}")
        object.__setattr__(self, "messages", tuple({"role": m["role"], "content": m["content"]} for m in msgs))
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise DysenInputError("max_tokens", self.max_tokens, "must be a positive integer")

    def params(self) -> dict[str, Any]:
        """Everything but the messages that changes the answer (part of the cache key)."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "json_schema": self.json_schema,
            "schema_name": self.schema_name,
            "seed": self.seed,
        }

    def with_messages(self, messages: Sequence[Mapping[str, str]], tag: str | None = None) -> ChatRequest:
        return ChatRequest(
            tuple(messages),
            self.temperature,
            self.max_tokens,
            self.json_schema,
            self.schema_name,
            self.seed,
            self.tag if tag is None else tag,
        )


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (0 when the server does not report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResponse:
    """A model answer. ``cached`` is true when it came from a cache or cassette instead of the model;
    ``attempts`` counts the requests sent for it (retries included; not stored in caches)."""

    text: str
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str | None = None
    cached: bool = False
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
            "model": self.model,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, cached: bool = False) -> ChatResponse:
        usage = data.get("usage") or {}
        return cls(
            str(data.get("text", "")),
            Usage(int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0)),
            str(data.get("model", "")),
            data.get("finish_reason"),
            cached,
        )


def request_key(model_id: str, request: ChatRequest) -> str:
    """SHA-256 of the model id, messages and parameters: the key of caches and cassettes.

    It never contains credentials: backends keep their API key out of ``model_id``.
    """
    blob = json.dumps(
        {"model": model_id, "messages": list(request.messages), "params": request.params()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@runtime_checkable
class ChatModel(Protocol):
    """What :class:`~dysen.LLMPlanner` needs from a chat model.

    ``model_id`` names the model for caching and provenance (never a secret). ``acomplete`` returns the
    answer or raises :class:`~dysen.errors.BackendError` after the backend's own retries. ``meter``
    accumulates calls, tokens and cost.
    """

    model_id: str

    @property
    def meter(self) -> Any: ...

    async def acomplete(self, request: ChatRequest) -> ChatResponse: ...
