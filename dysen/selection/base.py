"""Demonstration selectors: which D examples of the pool go into a prompt (paper §4.1 + RL optimisation)."""

from __future__ import annotations

import hashlib
import random
from typing import Protocol, runtime_checkable

from dsg import normalize_label

from ..demos import Demonstration, DemoPool
from ..errors import DysenInputError

__all__ = ["RandomSelector", "Selector", "candidate_indices"]


@runtime_checkable
class Selector(Protocol):
    """Chooses ``k`` demonstrations for a query caption."""

    name: str

    def select(self, query: str, k: int) -> list[Demonstration]: ...


def candidate_indices(pool: DemoPool, query: str, exclude_exact: bool) -> list[int]:
    """Indices of the pool usable for ``query``: all, or all but demonstrations with the very same caption
    (so that evaluating on captions that are also in the pool does not leak their answers)."""
    if not exclude_exact:
        return list(range(len(pool)))
    q = normalize_label(query)
    return [k for k, d in enumerate(pool) if normalize_label(d.caption) != q]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise DysenInputError("k", k, "must be a non-negative integer")
    return k


class RandomSelector:
    """``k`` demonstrations drawn at random, deterministically per (seed, query) so that re-runs build the
    same prompts (and hit the response cache)."""

    name = "random"

    def __init__(self, pool: DemoPool, *, seed: int = 0, exclude_exact: bool = True) -> None:
        self.pool = pool
        self.seed = seed
        self.exclude_exact = exclude_exact

    def select(self, query: str, k: int) -> list[Demonstration]:
        k = _check_k(k)
        idx = candidate_indices(self.pool, query, self.exclude_exact)
        digest = hashlib.sha256(f"{self.seed}\0{query}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        return [self.pool[i] for i in rng.sample(idx, min(k, len(idx)))]
