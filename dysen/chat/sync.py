"""Run a coroutine from synchronous code, also where an event loop is already running (notebooks)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["aclose_quietly", "run_sync"]

T = TypeVar("T")


async def aclose_quietly(resource: Any) -> None:
    """``await resource.aclose()`` if it has one (chat backends close their HTTP clients of this loop)."""
    close = getattr(resource, "aclose", None)
    if close is not None:
        await close()


def run_sync(coro: Coroutine[Any, Any, T], *, close: Any = None) -> T:
    """``asyncio.run(coro)``, or, inside a running loop, the same in a worker thread (never nested loops).

    ``close``: an object whose ``aclose()`` is awaited on the same loop afterwards (a chat backend, so that its
    HTTP connections are closed before the loop is).
    """

    async def main() -> T:
        try:
            return await coro
        finally:
            await aclose_quietly(close)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()
