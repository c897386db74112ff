"""Token and cost accounting shared by the chat backends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .types import ChatResponse

__all__ = ["DEFAULT_PRICES", "Price", "UsageMeter"]


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


DEFAULT_PRICES: Mapping[str, Price] = {
    # OpenAI list prices (standard tier) when this table was written; pass ``prices=`` to override.
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}


def _price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    if model in prices:
        return prices[model]
    # dated snapshots ("gpt-4o-mini-2024-07-18") use the price of their family: longest matching prefix
    best = max((name for name in prices if model.startswith(name)), key=len, default=None)
    return None if best is None else prices[best]


@dataclass
class UsageMeter:
    """Thread-safe counters: model calls, cache hits, tokens, cost, errors by kind.

    Cached answers count as ``cache_hits`` and cost nothing; their tokens are not added.
    """

    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    attempts: int = 0  # HTTP requests sent, retries and failed ones included
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, response: ChatResponse, model: str) -> None:
        with self._lock:
            if response.cached:
                self.cache_hits += 1
                return
            self.calls += 1
            self.prompt_tokens += response.usage.prompt_tokens
            self.completion_tokens += response.usage.completion_tokens
            price = _price_for(model, self.prices)
            if price is None:
                self.unpriced_calls += 1
            else:
                self.cost_usd += price.cost(response.usage.prompt_tokens, response.usage.completion_tokens)

    def record_attempt(self) -> None:
        with self._lock:
            self.attempts += 1

    def record_error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "calls": self.calls,
                "cache_hits": self.cache_hits,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 6),
                "unpriced_calls": self.unpriced_calls,
                "attempts": self.attempts,
                "errors": dict(self.errors),
            }

    def summary(self) -> str:
        s = self.snapshot()
        cost = f"${s['cost_usd']:.4f}" + (" (some calls unpriced)" if s["unpriced_calls"] else "")
        errs = ", ".join(f"{k}={v}" for k, v in sorted(s["errors"].items())) or "none"  # type: ignore[union-attr]
        return (
            f"{s['calls']} model calls ({s['attempts']} HTTP attempts), {s['cache_hits']} cache hits, "
            f"{s['prompt_tokens']} prompt + {s['completion_tokens']} completion tokens, cost {cost}, errors: {errs}"
        )
