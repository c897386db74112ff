"""Record/replay backend: a JSON Lines cassette of requests and answers, for reproducible runs without a key.

Modes:

* ``"record"``: every request goes to the wrapped backend; each answer is appended to the cassette at
  once (an interrupted recording keeps what it got);
* ``"replay"``: answers come from the cassette only; a request it does not hold raises
  :class:`~dysen.errors.CassetteMissError`;
* ``"auto"``: replay what is there, record the rest (needs a wrapped backend).

One line per interaction: ``{"key": ..., "model": ..., "request": {"messages": [...], "params": {...}},
"response": {"text": ..., "usage": {...}, "model": ..., "finish_reason": ...}}``. Requests never contain
credentials, so cassettes can be committed next to the tests that use them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..errors import CassetteMissError, ConfigurationError
from .accounting import UsageMeter
from .sync import aclose_quietly
from .types import ChatModel, ChatRequest, ChatResponse, request_key

__all__ = ["CassetteChatModel"]

_MODES = ("record", "replay", "auto")


class CassetteChatModel:
    """Replay answers from (and record answers to) a cassette file.

    Args:
        path: the cassette (JSON Lines).
        inner: the backend that answers what is recorded (needed for ``record`` and ``auto``).
        mode: ``"record"``, ``"replay"`` or ``"auto"``.
        model_id: identity used for request keys when replaying without ``inner`` (must match the one
            recorded; default: the single model found in the cassette).
    """

    def __init__(
        self, path: str | Path, inner: ChatModel | None = None, *, mode: str = "auto", model_id: str | None = None
    ) -> None:
        if mode not in _MODES:
            raise ConfigurationError(f"cassette mode must be one of {_MODES}, got {mode!r}")
        if mode != "replay" and inner is None:
            raise ConfigurationError(f"cassette mode {mode!r} needs a backend to record from (inner=...)")
        self.path = Path(path)
        self.inner = inner
        self.mode = mode
        self._lock = threading.Lock()
        self._answers: dict[str, dict[str, Any]] = {}
        models: set[str] = set()
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            for lineno, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self._answers[str(row["key"])] = dict(row["response"])
                    models.add(str(row.get("model", "")))
                except (ValueError, KeyError, TypeError) as exc:
                    if lineno == len(lines):
                        continue  # a truncated last line from an interrupted recording
                    raise ConfigurationError(f"{self.path}:{lineno}: not a cassette line ({exc})") from exc
        elif mode == "replay":
            raise ConfigurationError(f"cassette {self.path} does not exist (mode 'replay')")
        if inner is not None:
            self._model_id = inner.model_id
        elif model_id is not None:
            self._model_id = model_id
        elif len(models) == 1:
            self._model_id = models.pop()
        else:
            raise ConfigurationError(f"cassette {self.path} holds models {sorted(models)}; pass model_id=...")
        self._meter = inner.meter if inner is not None else UsageMeter()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def meter(self) -> Any:
        return self._meter

    def __len__(self) -> int:
        return len(self._answers)

    def __repr__(self) -> str:
        return f"CassetteChatModel({str(self.path)!r}, mode={self.mode!r}, entries={len(self)})"

    async def aclose(self) -> None:
        """Close the wrapped backend's connections of the running loop."""
        await aclose_quietly(self.inner)

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        key = request_key(self._model_id, request)
        if self.mode != "record":
            hit = self._answers.get(key)
            if hit is not None:
                out = ChatResponse.from_dict(hit, cached=True)
                self._meter.record(out, self._model_id)
                return out
            if self.mode == "replay":
                raise CassetteMissError(f"cassette {self.path} has no answer for request {key[:12]} ({request.tag})")
        assert self.inner is not None
        response = await self.inner.acomplete(request)
        row = {
            "key": key,
            "model": self._model_id,
            "request": {"messages": list(request.messages), "params": request.params()},
            "response": response.to_dict(),
        }
        with self._lock:
            self._answers[key] = row["response"]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return response
