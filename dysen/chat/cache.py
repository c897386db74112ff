"""A persistent response cache (SQLite) and the backend wrapper that uses it.

Keys are :func:`~dysen.chat.types.request_key` hashes of model id, messages and parameters; values are the
answer text, token usage and model name. Every answer is committed as soon as it arrives, so an
interrupted run loses nothing it finished, and re-running costs zero model calls. Credentials are never
part of a key or a value.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .sync import aclose_quietly
from .types import ChatModel, ChatRequest, ChatResponse, request_key

__all__ = ["CachedChatModel", "ResponseCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class ResponseCache:
    """SQLite file of answers by request key (WAL journal; safe for threads of one process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if self.path.is_dir():
            raise ConfigurationError(f"response cache {self.path} is a directory, not an SQLite file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"response cache {self.path}: cannot create its folder: {exc}") from exc
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            cols = [r[1] for r in db.execute("PRAGMA table_info(responses)").fetchall()]
            if cols[:4] != ["key", "model", "response", "created"]:
                raise sqlite3.DatabaseError(f"its responses table has columns {cols}")
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise ConfigurationError(
                f"response cache {self.path} is not a dysen response cache (SQLite): {exc}; "
                "give a new file name or delete it"
            ) from exc
        self._db = db

    def get(self, key: str) -> ChatResponse | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return ChatResponse.from_dict(json.loads(row[0]), cached=True)
        except (ValueError, TypeError):
            return None  # a damaged row is a miss, never a crash

    def put(self, key: str, model: str, response: ChatResponse) -> None:
        blob = json.dumps(response.to_dict(), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, response, created) VALUES (?, ?, ?, ?)",
                (key, model, blob, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedChatModel:
    """Wrap a backend with a :class:`ResponseCache`: hits return at once (``cached=True``), misses are
    answered by the backend and stored. Failed calls are not stored."""

    def __init__(self, inner: ChatModel, cache: ResponseCache | str | Path) -> None:
        self.inner = inner
        self.cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache)

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def meter(self) -> Any:
        return self.inner.meter

    def __repr__(self) -> str:
        return f"CachedChatModel({self.inner!r}, cache={str(self.cache.path)!r})"

    async def aclose(self) -> None:
        """Close the wrapped backend's connections of the running loop."""
        await aclose_quietly(self.inner)

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        key = request_key(self.model_id, request)
        hit = self.cache.get(key)
        if hit is not None:
            self.meter.record(hit, self.model_id)
            return hit
        response = await self.inner.acomplete(request)
        self.cache.put(key, self.model_id, response)
        return response
