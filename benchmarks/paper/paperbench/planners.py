"""Planners of the ablations (paper Table 4) and small planner adapters used by the experiments.

* :func:`make_planner` — a planner by key, the LLM ones (``LLMPlanner`` with its ablation switches, and with a
  REINFORCE policy or random demonstrations for "w/o RL-ICL") when an OpenAI-compatible server is configured.
* :class:`LookupPlanner` — answers from DSGs planned once up front (so that every run of a variant is conditioned
  on the very same DSGs, and an LLM is asked once per caption, not once per run).
* :class:`GridPlanner` — maps a planner's schedule onto a video's frame grid before it is compared with a
  frame-grid gold schedule (see :mod:`dsg.convert`, ``align_schedule``).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsg import DSGError, DynamicSceneGraph, EventSchedule, Planner, align_schedule, from_json, to_json

__all__ = [
    "PLANNER_KEYS",
    "GridPlanner",
    "LLMSettings",
    "LookupPlanner",
    "PlannerKeyError",
    "cached_plans",
    "load_plans",
    "make_planner",
    "plan_texts",
    "planner_spec",
    "save_plans",
    "unique",
]


class PlannerKeyError(ValueError):
    """A planner key is unknown, or names an LLM planner while no LLM server is configured."""


class LookupPlanner:
    """A :class:`dsg.Planner` answering from precomputed DSGs (by exact text), else from ``fallback``."""

    def __init__(self, table: Mapping[str, DynamicSceneGraph], fallback: Planner | None = None) -> None:
        self.table = dict(table)
        self.fallback = fallback
        self.misses = 0

    def plan(self, text: str) -> DynamicSceneGraph:
        hit = self.table.get(text)
        if hit is not None:
            return hit
        if self.fallback is None:
            raise KeyError(f"no precomputed DSG for {text!r} and no fallback planner")
        self.misses += 1
        return self.fallback.plan(text)

    def schedule(self, text: str) -> EventSchedule:
        sched = self.plan(text).schedule
        return sched if sched is not None else EventSchedule()


class GridPlanner:
    """Wraps a planner so that :meth:`schedule` is on a ``num_frames`` frame grid (``align_schedule``).

    Needed to compare with the procedural world's gold schedules, which live on the video's frames:
    :func:`dsg.match_events` breaks ties between repeated triplets by interval overlap, which pairs them the
    wrong way round across two different grids.
    """

    def __init__(self, inner: Planner, num_frames: int) -> None:
        self.inner = inner
        self.num_frames = num_frames

    def schedule(self, text: str) -> EventSchedule:
        sched = self.inner.schedule(text)
        return align_schedule(sched, self.num_frames) if len(sched) else sched

    def plan(self, text: str) -> DynamicSceneGraph:
        return self.inner.plan(text)


@dataclass(frozen=True)
class LLMSettings:
    """An OpenAI-compatible chat server for the LLM planners (``None`` everywhere: no LLM rows)."""

    base_url: str
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    policy: str | None = None  # a REINFORCE demonstration policy (dysen.selection.save_policy) for RL-ICL
    cache: str | None = None  # SQLite response cache (dysen.chat.ResponseCache): each prompt is paid once


# key -> (label of the planner, LLM needed, TrainConfig.planner_spec recorded with the trained pipeline)
PLANNER_KEYS: dict[str, tuple[str, bool, str]] = {
    "rule": ("RuleBasedPlanner", False, "dysen:RuleBasedPlanner"),
    "rule-no-imagination": (
        "RuleBasedPlanner(imagine=False)",
        False,
        "paperbench.ablation_planners:NoImaginationRuleBasedPlanner",
    ),
    "rule-no-window": (
        "RuleBasedPlanner, imagination without window",
        False,
        "paperbench.ablation_planners:WindowlessRuleBasedPlanner",
    ),
    "llm": ("LLMPlanner (RL-ICL policy if given)", True, "dysen:LLMPlanner"),
    "llm-no-imagination": ("LLMPlanner(imagination=False)", True, "dysen:LLMPlanner"),
    "llm-no-window": ("LLMPlanner(sliding_window=False)", True, "dysen:LLMPlanner"),
    "llm-random-icl": ("LLMPlanner, random demonstrations", True, "dysen:LLMPlanner"),
}


def planner_spec(key: str) -> str:
    """The ``"module:Class"`` spec recorded in a trained pipeline's config for planner ``key``."""
    return PLANNER_KEYS[_check_key(key)][2]


def _check_key(key: str) -> str:
    if key not in PLANNER_KEYS:
        raise PlannerKeyError(f"unknown planner key {key!r}; known: {sorted(PLANNER_KEYS)}")
    return key


def make_planner(key: str, llm: LLMSettings | None = None) -> Planner:
    """The planner named by ``key`` (see :data:`PLANNER_KEYS`)."""
    _check_key(key)
    if key.startswith("rule"):
        from .ablation_planners import NoImaginationRuleBasedPlanner, RuleBasedPlanner, WindowlessRuleBasedPlanner

        cls = {"rule": RuleBasedPlanner, "rule-no-imagination": NoImaginationRuleBasedPlanner}.get(key)
        return (cls or WindowlessRuleBasedPlanner)()
    if llm is None:
        raise PlannerKeyError(f"planner {key!r} needs an LLM server (--llm-base-url)")
    from dysen import CachedChatModel, LLMPlanner, OpenAIChatModel, RandomSelector, default_pool

    chat: Any = OpenAIChatModel(llm.model, base_url=llm.base_url, api_key_env=llm.api_key_env)
    if llm.cache:
        chat = CachedChatModel(chat, llm.cache)
    pool = default_pool()
    selector: Any = RandomSelector(pool)
    if llm.policy and key != "llm-random-icl":
        from dysen.selection import PolicySelector, load_policy

        selector = PolicySelector(pool, load_policy(llm.policy)[0])
    return LLMPlanner(
        chat,
        pool=pool,
        selector=selector,
        imagination=key != "llm-no-imagination",
        sliding_window=key != "llm-no-window",
    )


def plan_texts(planner: Planner, texts: Sequence[str]) -> list[DynamicSceneGraph]:
    """Plan many texts with the planner's batch method where it has one (spaCy pipes, concurrent LLM calls)."""
    many = getattr(planner, "plan_many", None)
    return list(many(list(texts))) if many is not None else [planner.plan(t) for t in texts]


def save_plans(dsgs: Iterable[DynamicSceneGraph], path: str | Path) -> Path:
    """Write DSGs as gzip-compressed JSON Lines (``dsg.to_json`` per line; ~10x smaller than plain JSONL, which
    matters for what is carried to a GPU machine), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for d in dsgs:
            fh.write(to_json(d, indent=None) + "\n")
    tmp.replace(path)
    return path


def load_plans(path: str | Path) -> list[DynamicSceneGraph]:
    """The DSGs written by :func:`save_plans` (a bad line raises, naming the file and line)."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                out.append(from_json(line))
            except DSGError as exc:
                raise DSGError(f"{path}:{lineno}: {exc}") from exc
    return out


def cached_plans(
    planner: Planner | Callable[[], Planner], texts: Sequence[str], path: str | Path
) -> list[DynamicSceneGraph]:
    """:func:`plan_texts`, stored at ``path`` (:func:`save_plans`) and read back when it holds every text.

    ``planner`` may be a factory, called only when something has to be planned (a machine without spaCy can
    then read plans made elsewhere). Each DSG's ``text`` is set to its input text, the key it is looked up by."""
    path = Path(path)
    if path.exists():
        stored = {d.text: d for d in load_plans(path)}
        if all(t in stored for t in texts):
            return [stored[t] for t in texts]
    if not hasattr(planner, "plan"):
        planner = planner()
    dsgs = [d if d.text == t else d.replace(text=t) for d, t in zip(plan_texts(planner, texts), texts)]
    save_plans(dsgs, path)
    return dsgs


def unique(texts: Iterable[str]) -> list[str]:
    """``texts`` without repeats, in first-seen order."""
    return list(dict.fromkeys(texts))
