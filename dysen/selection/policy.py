"""Demonstration selection optimised with REINFORCE (the paper's RL-optimised ICL, after PromptPG).

PromptPG (Lu et al., ICLR 2023) learns which in-context examples to show: a *frozen* text encoder embeds the
query and the candidate examples, a small *trainable* scorer gives each candidate a logit, ``D`` examples are
sampled without replacement from the resulting distribution, and the policy is updated with the policy
gradient of the reward the LLM's answer earns. Here:

* scorer: ``logit(q, c) = <W e(q), W e(c)>`` with ``e`` the frozen :class:`~dysen.selection.TextEncoder` and
  ``W`` one linear map (:class:`DemoPolicy`);
* sampling: ``D`` draws without replacement (sequential softmax over the candidates left), log-probability =
  sum of the draws' log-probabilities;
* each step draws a random candidate set of ``num_candidates`` pool entries per training caption (PromptPG's
  candidate set; the caption's own entry is excluded);
* reward (the paper says only "RL optimization for ICL"; we take its two quality measures):
  ``r = (action-planning accuracy + TriRec) / 2`` in ``[0, 1]``, where action-planning accuracy is the mean
  of the Fig. 9 triplet/predicate/argument accuracies of the Step I answer against the gold schedule and
  TriRec (eq. 7, video mode) compares the planned DSG with the gold DSG, plus an optional extra reward hook
  (e.g. a video-quality score); the baseline is an exponential moving average of past rewards and the
  advantage ``r - b`` multiplies ``-log pi``.

The policy is saved with safetensors (weights + metadata: encoder, pool fingerprint, sizes).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dsg import DynamicSceneGraph, EventSchedule, planning_accuracy, schedule_to_dsg, trirec

from ..chat.sync import run_sync
from ..demos import Demonstration, DemoPool
from ..errors import ConfigurationError, DysenInputError
from .base import _check_k, candidate_indices
from .encoder import TextEncoder

__all__ = [
    "DemoPolicy",
    "PolicySelector",
    "TrainingExample",
    "TrainingResult",
    "evaluate_selector",
    "load_policy",
    "planning_reward",
    "save_policy",
    "train_policy",
]

FORMAT = "dysen-demo-policy/1"


class DemoPolicy(torch.nn.Module):
    """The trainable scorer over frozen embeddings: ``logit(q, c) = <W q, W c>``."""

    def __init__(self, dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.dim, self.hidden = int(dim), int(hidden)
        self.proj = torch.nn.Linear(self.dim, self.hidden, bias=False)
        torch.nn.init.normal_(self.proj.weight, std=1.0 / math.sqrt(self.dim))

    def logits(self, query: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """``(N,)`` logits of ``N`` candidate embeddings ``(N, dim)`` for one query embedding ``(dim,)``."""
        return self.proj(candidates) @ self.proj(query)

    def sample(
        self, query: torch.Tensor, candidates: torch.Tensor, k: int, generator: torch.Generator | None = None
    ) -> tuple[list[int], torch.Tensor]:
        """``k`` distinct candidate indices drawn in order, and the log-probability of that draw."""
        logits = self.logits(query, candidates)
        mask = torch.zeros_like(logits, dtype=torch.bool)
        picks: list[int] = []
        logp = logits.new_zeros(())
        for _ in range(min(k, logits.numel())):
            lp = torch.log_softmax(logits.masked_fill(mask, float("-inf")), dim=0)
            i = int(torch.multinomial(lp.detach().exp(), 1, generator=generator))
            logp = logp + lp[i]
            mask = mask.clone()  # autograd keeps the previous mask
            mask[i] = True
            picks.append(i)
        return picks, logp

    def top(self, query: torch.Tensor, candidates: torch.Tensor, k: int) -> list[int]:
        """The ``k`` highest-scoring candidates, best first."""
        with torch.no_grad():
            return self.logits(query, candidates).argsort(descending=True)[:k].tolist()


class PolicySelector:
    """Selection with a trained :class:`DemoPolicy`: greedy top-``k`` (best last in the prompt), or sampled."""

    name = "policy"

    def __init__(
        self,
        pool: DemoPool,
        policy: DemoPolicy,
        encoder: TextEncoder | None = None,
        *,
        exclude_exact: bool = True,
        sample: bool = False,
        seed: int = 0,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.encoder = encoder or TextEncoder()
        self.exclude_exact = exclude_exact
        self.sample = sample
        self._gen = torch.Generator().manual_seed(seed)
        self._pool_vecs: torch.Tensor | None = None

    def pool_vectors(self) -> torch.Tensor:
        if self._pool_vecs is None:
            self._pool_vecs = self.encoder.encode(self.pool.captions)
        return self._pool_vecs

    def select(self, query: str, k: int) -> list[Demonstration]:
        k = _check_k(k)
        idx = candidate_indices(self.pool, query, self.exclude_exact)
        if k == 0 or not idx:
            return []
        q = self.encoder.encode([query])[0]
        cands = self.pool_vectors()[idx]
        if self.sample:
            with torch.no_grad():
                order, _ = self.policy.sample(q, cands, k, self._gen)
        else:
            order = self.policy.top(q, cands, k)
        return [self.pool[idx[i]] for i in reversed(order)]


# ---------------------------------------------------------------------------------------------------
# reward, training, evaluation
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingExample:
    """A caption with its gold schedule (and gold DSG; default: the Step II DSG of the schedule)."""

    caption: str
    schedule: EventSchedule
    dsg: DynamicSceneGraph | None = None

    @property
    def gold_dsg(self) -> DynamicSceneGraph:
        return self.dsg if self.dsg is not None else schedule_to_dsg(self.schedule, text=self.caption)


def planning_reward(
    pred: EventSchedule, gold: EventSchedule, pred_dsg: DynamicSceneGraph | None, gold_dsg: DynamicSceneGraph
) -> float:
    """``(action-planning accuracy + TriRec) / 2`` in ``[0, 1]`` (see the module docstring)."""
    acc = planning_accuracy(pred, gold)
    planning = (acc.triplet + acc.predicate + acc.argument) / 3
    if pred_dsg is None:
        pred_dsg = schedule_to_dsg(pred, allow_empty=True)
    return (planning + trirec(pred_dsg, gold_dsg, mode="video")) / 2


@dataclass
class TrainingResult:
    policy: DemoPolicy
    history: list[dict[str, float]] = field(default_factory=list)


ExtraReward = Callable[[TrainingExample, EventSchedule, DynamicSceneGraph], float]


async def _rewards(
    planner: Any,
    batch: Sequence[TrainingExample],
    demos: Sequence[Sequence[Demonstration]],
    concurrency: int,
    full_plan: bool,
    extra_reward: ExtraReward | None,
) -> list[float]:
    sem = asyncio.Semaphore(concurrency)

    async def one(ex: TrainingExample, ds: Sequence[Demonstration]) -> float:
        async with sem:
            if full_plan:
                pred_dsg = await planner.aplan(ex.caption, demos=ds)
                pred = pred_dsg.schedule if pred_dsg.schedule is not None else EventSchedule()
            else:
                pred = await planner.aschedule(ex.caption, demos=ds)
                pred_dsg = schedule_to_dsg(pred, allow_empty=True)
        r = planning_reward(pred, ex.schedule, pred_dsg, ex.gold_dsg)
        if extra_reward is not None:
            r += float(extra_reward(ex, pred, pred_dsg))
        return r

    return list(await asyncio.gather(*(one(ex, ds) for ex, ds in zip(batch, demos))))


def train_policy(
    planner: Any,
    examples: Sequence[TrainingExample],
    *,
    pool: DemoPool | None = None,
    encoder: TextEncoder | None = None,
    policy: DemoPolicy | None = None,
    k: int | None = None,
    num_candidates: int = 20,
    epochs: int = 3,
    batch_size: int = 8,
    lr: float = 1e-3,
    hidden: int = 128,
    baseline_momentum: float = 0.9,
    seed: int = 0,
    concurrency: int = 8,
    extra_reward: ExtraReward | None = None,
    full_plan: bool = False,
    log: Callable[[dict[str, float]], None] | None = None,
) -> TrainingResult:
    """Train a :class:`DemoPolicy` with REINFORCE against ``planner`` (an :class:`~dysen.LLMPlanner`).

    Each example of each batch draws ``num_candidates`` candidates from the pool, samples ``k`` (default
    ``planner.num_demos``) of them with the policy, plans the caption with them (Step I; ``full_plan=True``:
    Steps I-III, many more calls) and earns :func:`planning_reward` (+ ``extra_reward``). Model calls of a
    batch run concurrently (``concurrency``); a caching chat backend makes repeated draws free.
    """
    if not examples:
        raise DysenInputError("examples", examples, "at least one training example is needed")
    pool = pool if pool is not None else planner.pool
    encoder = encoder or TextEncoder()
    k = planner.num_demos if k is None else _check_k(k)
    if k < 1:
        raise DysenInputError("k", k, "must be >= 1 to learn anything")
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    pool_vecs = encoder.encode(pool.captions)
    query_vecs = encoder.encode([ex.caption for ex in examples])
    policy = policy or DemoPolicy(pool_vecs.shape[1], hidden)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    baseline: float | None = None
    history: list[dict[str, float]] = []
    order = list(range(len(examples)))
    step = 0
    for epoch in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            ids = order[start : start + batch_size]
            batch = [examples[i] for i in ids]
            picks, logps = [], []
            for i, ex in zip(ids, batch):
                cand = candidate_indices(pool, ex.caption, True)
                cand = rng.sample(cand, min(num_candidates, len(cand)))
                chosen, logp = policy.sample(query_vecs[i], pool_vecs[cand], k, gen)
                picks.append([pool[cand[c]] for c in reversed(chosen)])
                logps.append(logp)
            rewards = run_sync(_rewards(planner, batch, picks, concurrency, full_plan, extra_reward), close=planner)
            mean_r = sum(rewards) / len(rewards)
            if baseline is None:
                baseline = mean_r
            adv = torch.tensor([r - baseline for r in rewards])
            loss = -(adv * torch.stack(logps)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            baseline = baseline_momentum * baseline + (1 - baseline_momentum) * mean_r
            step += 1
            row = {
                "epoch": float(epoch),
                "step": float(step),
                "reward": mean_r,
                "baseline": baseline,
                "loss": loss.item(),
            }
            history.append(row)
            if log is not None:
                log(row)
    return TrainingResult(policy, history)


def evaluate_selector(
    planner: Any, selector: Any, examples: Sequence[TrainingExample], *, concurrency: int = 8
) -> dict[str, float]:
    """Mean reward and Fig. 9 accuracies of Step I with ``selector``'s demonstrations on ``examples``."""
    k = planner.num_demos

    async def run() -> list[tuple[EventSchedule, TrainingExample]]:
        sem = asyncio.Semaphore(concurrency)

        async def one(ex: TrainingExample) -> tuple[EventSchedule, TrainingExample]:
            async with sem:
                return await planner.aschedule(ex.caption, demos=selector.select(ex.caption, k)), ex

        return list(await asyncio.gather(*(one(ex) for ex in examples)))

    results = run_sync(run(), close=planner)
    n = max(1, len(results))
    out = {"reward": 0.0, "triplet": 0.0, "predicate": 0.0, "argument": 0.0}
    for pred, ex in results:
        acc = planning_accuracy(pred, ex.schedule)
        out["reward"] += planning_reward(pred, ex.schedule, None, ex.gold_dsg) / n
        out["triplet"] += acc.triplet / n
        out["predicate"] += acc.predicate / n
        out["argument"] += acc.argument / n
    out["num_examples"] = float(len(results))
    return out


# ---------------------------------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------------------------------
def save_policy(
    policy: DemoPolicy, path: str | Path, *, encoder: str = "", pool: DemoPool | None = None, k: int | None = None
) -> Path:
    """Write the policy as safetensors with its sizes and provenance in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "dim": str(policy.dim),
        "hidden": str(policy.hidden),
        "encoder": encoder,
        "pool_fingerprint": pool.fingerprint() if pool is not None else "",
        "k": "" if k is None else str(k),
    }
    save_file({k_: v.detach().contiguous().cpu() for k_, v in policy.state_dict().items()}, str(path), metadata=meta)
    return path


MAX_POLICY_DIM = 8192
"""Largest embedding size a policy file may declare (all-MiniLM-L6-v2: 384)."""
MAX_POLICY_HIDDEN = 4096
"""Largest projection size a policy file may declare (default: 128)."""


def _meta_int(meta: dict[str, str], key: str, limit: int, path: str | Path) -> int:
    raw = meta.get(key)
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigurationError(f"{path}: metadata {key!r} must be an integer, got {raw!r}") from None
    if not 1 <= value <= limit:
        raise ConfigurationError(f"{path}: metadata {key}={value} is outside 1..{limit}")
    return value


def load_policy(path: str | Path) -> tuple[DemoPolicy, dict[str, str]]:
    """Read a policy written by :func:`save_policy`: ``(policy, metadata)``.

    The metadata's sizes are checked against :data:`MAX_POLICY_DIM` / :data:`MAX_POLICY_HIDDEN` and against the
    stored tensor's shape before anything is allocated, so a crafted file cannot request a huge allocation."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            if meta.get("format") != FORMAT:
                raise ConfigurationError(f"{path} is not a dysen selection policy (format {meta.get('format')!r})")
            dim = _meta_int(meta, "dim", MAX_POLICY_DIM, path)
            hidden = _meta_int(meta, "hidden", MAX_POLICY_HIDDEN, path)
            names = sorted(fh.keys())
            if names != ["proj.weight"]:
                raise ConfigurationError(f"{path}: expected one tensor 'proj.weight', found {names[:5]}")
            shape = list(fh.get_slice("proj.weight").get_shape())
            if shape != [hidden, dim]:
                raise ConfigurationError(
                    f"{path}: tensor 'proj.weight' has shape {shape}, the metadata says [{hidden}, {dim}]"
                )
            tensors = {"proj.weight": fh.get_tensor("proj.weight")}
    except ConfigurationError:
        raise
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ConfigurationError(f"cannot read a selection policy from {path}: {exc}") from exc
    policy = DemoPolicy(dim, hidden)
    try:
        policy.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ConfigurationError(f"{path}: weights do not match the metadata: {exc}") from exc
    return policy, meta
