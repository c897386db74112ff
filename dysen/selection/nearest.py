"""Nearest-neighbour demonstration selection by sentence embedding (KATE-style retrieval)."""

from __future__ import annotations

from ..demos import Demonstration, DemoPool
from .base import _check_k, candidate_indices
from .encoder import TextEncoder

__all__ = ["NearestNeighbourSelector"]


class NearestNeighbourSelector:
    """The ``k`` demonstrations whose captions are most similar (cosine) to the query.

    They are returned least similar first, so the closest example sits right before the query in the prompt.
    Demonstrations with the very caption of the query are skipped (``exclude_exact``).
    """

    name = "nearest"

    def __init__(self, pool: DemoPool, encoder: TextEncoder | None = None, *, exclude_exact: bool = True) -> None:
        self.pool = pool
        self.encoder = encoder or TextEncoder()
        self.exclude_exact = exclude_exact
        self._pool_vecs = None

    def select(self, query: str, k: int) -> list[Demonstration]:
        k = _check_k(k)
        idx = candidate_indices(self.pool, query, self.exclude_exact)
        if k == 0 or not idx:
            return []
        if self._pool_vecs is None:
            self._pool_vecs = self.encoder.encode(self.pool.captions)
        q = self.encoder.encode([query])[0]
        sims = self._pool_vecs[idx] @ q
        order = sims.argsort(descending=True)[:k].tolist()
        return [self.pool[idx[i]] for i in reversed(order)]
