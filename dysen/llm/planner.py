"""``LLMPlanner``: the paper's three steps with a chat model (§4.1, Fig. 3).

* **Step I, action planning**: one call with the instruction, ``num_demos`` demonstrations (default 5) and
  the query; the answer is the event schedule (intervals in units of v, physical order).
* **Step II, event-to-DSG conversion**: :func:`dsg.schedule_to_dsg`, no model.
* **Step III, scene imagination**, two rounds. Round 1 enriches each *distinct segment* of the Step II DSG
  (a run of identical frames, :meth:`dsg.DynamicSceneGraph.segments`) with the sliding-window context
  ``[enriched G(m-1), G(m), G(m+1)]``; the segments are done in order because each window sees the
  previous *enriched* scene graph. Round 2 is one global polish of the whole DSG.

So a prompt costs at most ``2 + number of segments`` calls when every answer is valid, never one call per
video frame. Each invalid answer (not JSON, wrong schema, bad values) gets exactly one repair request
quoting the validation error; if that fails too, the step falls back (Step I: the offline
:class:`~dysen.RuleBasedPlanner`; round 1: the un-enriched segment; round 2: the round-1 DSG) and the DSG's
provenance records what happened. Backend failures after the client's retries fall back the same way
without a repair. Answers are data: parsed with ``json``, validated, never executed.

Bounds (see ``docs/reliability.md``): a prompt longer than ``max_prompt_chars`` (default
:data:`MAX_PROMPT_CHARS`, 2,000 characters) raises :class:`~dysen.errors.DysenInputError`; each prompt has an
overall ``deadline`` (default :data:`DEFAULT_DEADLINE_S`, 300 s) shared by all its calls and their retries; a
prompt makes no further model calls once it has fallen back (Step I failed, a backend error survived the
client's retries, or the deadline passed): what is left is kept as it is (the offline plan, the un-enriched
scene graphs) and the provenance says so. Schedules, the model's and the offline fallback's, are held to
``max_steps``. The provenance reports ``calls`` (answers received) and ``attempts`` (HTTP requests sent,
retries and failures included); error texts in it are redacted (:func:`~dysen.errors.redact_secrets`).

Ablations of the paper's Table 4: ``imagination=False`` (Steps I-II only), ``sliding_window=False``
(segments enriched independently, in parallel, each seeing only itself), ``polish=False``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from dsg import (
    DynamicSceneGraph,
    Entity,
    Event,
    EventSchedule,
    Planner,
    Provenance,
    Relation,
    SceneGraph,
    normalize_label,
    schedule_to_dsg,
)
from dsg.errors import DSGError

from ..chat.sync import aclose_quietly, run_sync
from ..chat.types import ChatModel, ChatRequest
from ..demos import Demonstration, DemoPool, default_pool, dsg_from_segments
from ..errors import BackendError, DysenInputError, ResponseValidationError, redact_secrets
from ..selection.base import RandomSelector, Selector
from . import prompts
from .schemas import PlanAnswer, PolishAnswer, RelationOut, SceneAnswer, strict_schema, validate_answer

__all__ = ["DEFAULT_DEADLINE_S", "MAX_PROMPT_CHARS", "LLMPlanner"]

MAX_PROMPT_CHARS = 2000
"""Default longest prompt (characters) :class:`LLMPlanner` accepts (a video caption is well under 500)."""
DEFAULT_DEADLINE_S = 300.0
"""Default overall time, in seconds, one prompt's model calls may take (retries and waits included)."""

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass
class _Trace:
    """What happened while planning one prompt (goes into the provenance)."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    repairs: int = 0
    attempts: int = 0
    deadline_at: float | None = None
    stopped: str | None = None  # why this prompt makes no further model calls
    skipped: int = 0

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason

    def remaining(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - time.monotonic()


class _Names:
    """Maps entity names in model answers to entity ids; unknown names become new entities."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self.table: dict[str, Entity] = {e.id: e for e in entities}
        self.new: dict[str, Entity] = {}

    def resolve(self, name: str) -> str:
        ident = " ".join(name.split())
        if ident in self.table:
            return ident
        by_label = [e.id for e in self.table.values() if e.label == normalize_label(ident, entity=True)]
        if len(by_label) == 1:
            return by_label[0]
        ent = Entity(ident)  # validates: an empty label raises DSGValidationError
        self.table[ident] = ent
        self.new[ident] = ent
        return ident

    def fork(self) -> _Names:
        """A copy to resolve one answer with; :meth:`adopt` it only if the answer is valid."""
        child = _Names(())
        child.table, child.new = dict(self.table), dict(self.new)
        return child

    def adopt(self, child: _Names) -> None:
        self.table.update(child.table)
        self.new.update(child.new)

    def relation(self, r: RelationOut) -> list[Any]:
        return [self.resolve(r.subject), r.predicate, None if r.object is None else self.resolve(r.object)]


class LLMPlanner:
    """Text -> enriched DSG with a chat model (see the module docstring). Implements :class:`dsg.Planner`.

    Args:
        chat: any :class:`~dysen.chat.ChatModel` (OpenAI-compatible server, local ``transformers`` model,
            cassette, possibly wrapped in a :class:`~dysen.chat.CachedChatModel`).
        pool: demonstration pool (default: the shipped one).
        selector: picks the demonstrations of each prompt (default: :class:`~dysen.selection.RandomSelector`
            over ``pool``; see also ``NearestNeighbourSelector`` and ``PolicySelector``).
        num_demos: demonstrations in the Step I prompt (paper: D, default 5).
        num_context_demos: demonstrations in the Step III prompts (longer inputs, so fewer; default 2).
        imagination / sliding_window / polish: the ablation switches.
        fallback: planner used when Step I fails (default: an offline ``RuleBasedPlanner``; ``None``: an
            empty DSG whose provenance says why).
        temperature, max_tokens, seed: sampling parameters of every request.
        max_steps: largest event end time accepted from the model, and kept from the offline fallback's
            schedule (guards against absurd schedules and against one call per segment of a huge one).
        deadline: seconds all model calls of one prompt may take together (default 300; ``None``: no
            deadline). When it passes, the call in flight is abandoned and the prompt keeps what it has.
        max_prompt_chars: longest prompt accepted (default 2,000 characters); longer raises
            :class:`~dysen.errors.DysenInputError`.
    """

    def __init__(
        self,
        chat: ChatModel,
        *,
        pool: DemoPool | None = None,
        selector: Selector | None = None,
        num_demos: int = 5,
        num_context_demos: int = 2,
        imagination: bool = True,
        sliding_window: bool = True,
        polish: bool = True,
        fallback: Planner | str | None = "rule",
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        max_steps: int = 64,
        deadline: float | None = DEFAULT_DEADLINE_S,
        max_prompt_chars: int = MAX_PROMPT_CHARS,
    ) -> None:
        if not hasattr(chat, "acomplete"):
            raise DysenInputError("chat", chat, "must be a ChatModel (with an async acomplete method)")
        for name, value in (("num_demos", num_demos), ("num_context_demos", num_context_demos)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DysenInputError(name, value, "must be a non-negative integer")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise DysenInputError("max_steps", max_steps, "must be a positive integer")
        if deadline is not None and (
            isinstance(deadline, bool) or not isinstance(deadline, int | float) or not (0 < deadline < math.inf)
        ):
            raise DysenInputError("deadline", deadline, "must be a finite number of seconds > 0, or None")
        if isinstance(max_prompt_chars, bool) or not isinstance(max_prompt_chars, int) or max_prompt_chars < 1:
            raise DysenInputError("max_prompt_chars", max_prompt_chars, "must be a positive integer")
        self.deadline = None if deadline is None else float(deadline)
        self.max_prompt_chars = max_prompt_chars
        self.chat = chat
        self.pool = pool if pool is not None else default_pool()
        self.selector = selector if selector is not None else RandomSelector(self.pool)
        self.num_demos = num_demos
        self.num_context_demos = num_context_demos
        self.imagination = imagination
        self.sliding_window = sliding_window
        self.polish = polish
        self._fallback = fallback
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.max_steps = max_steps

    def __repr__(self) -> str:
        return (
            f"LLMPlanner({self.chat.model_id!r}, selector={getattr(self.selector, 'name', '?')}, "
            f"num_demos={self.num_demos}, imagination={self.imagination}, sliding_window={self.sliding_window}, "
            f"polish={self.polish})"
        )

    @property
    def meter(self) -> Any:
        return self.chat.meter

    @property
    def fallback(self) -> Planner | None:
        if self._fallback == "rule":
            from ..rule_based.planner import RuleBasedPlanner

            self._fallback = RuleBasedPlanner()
        return self._fallback  # type: ignore[return-value]

    # -- one validated call with one repair ---------------------------------------------------------------
    async def _ask(
        self,
        trace: _Trace,
        tag: str,
        messages: list[dict[str, str]],
        model: type[M],
        check: Callable[[M], T],
    ) -> T | None:
        request = ChatRequest(
            tuple(messages),
            self.temperature,
            self.max_tokens,
            strict_schema(model),
            f"dysen_{model.__name__.lower()}",
            self.seed,
            tag,
        )
        answer = await self._call(trace, tag, request)
        if answer is None:
            return None
        try:
            return check(validate_answer(answer, model))
        except ResponseValidationError as first:
            error = str(first)
        repair = request.with_messages(
            [*messages, {"role": "assistant", "content": answer[:8000]}, prompts.repair_message(error)],
            tag=f"{tag}:repair",
        )
        answer2 = await self._call(trace, f"{tag}:repair", repair)
        if answer2 is None:
            return None
        try:
            out = check(validate_answer(answer2, model))
        except ResponseValidationError as second:
            trace.degraded.append(f"{tag}: invalid answer ({error}); the repair was invalid too ({second})")
            return None
        trace.repairs += 1
        trace.steps.append(f"repair({tag})")
        return out

    async def _call(self, trace: _Trace, tag: str, request: ChatRequest) -> str | None:
        if trace.stopped is not None:
            trace.skipped += 1
            return None
        remaining = trace.remaining()
        if remaining is not None and remaining <= 0:
            trace.stop(f"the per-prompt deadline of {self.deadline:g} s passed")
            trace.skipped += 1
            return None
        try:
            response = await asyncio.wait_for(self.chat.acomplete(request), remaining)
        except asyncio.TimeoutError:
            trace.attempts += 1
            trace.degraded.append(f"{tag}: abandoned at the per-prompt deadline of {self.deadline:g} s")
            trace.stop(f"the per-prompt deadline of {self.deadline:g} s passed")
            return None
        except BackendError as exc:
            trace.attempts += getattr(exc, "attempts", 1)
            trace.degraded.append(redact_secrets(f"{tag}: backend error ({exc.kind}): {exc}"))
            trace.stop(f"{tag} failed at the backend")
            return None
        trace.attempts += 0 if response.cached else getattr(response, "attempts", 1)
        trace.calls += 1
        trace.cached += int(response.cached)
        trace.prompt_tokens += response.usage.prompt_tokens
        trace.completion_tokens += response.usage.completion_tokens
        return response.text

    @staticmethod
    def _checked(fn: Callable[[M], T]) -> Callable[[M], T]:
        """Turn data-model errors raised while building DSG pieces into validation errors (-> repair)."""

        def wrapper(answer: M) -> T:
            try:
                return fn(answer)
            except (DSGError, ValueError) as exc:
                if isinstance(exc, ResponseValidationError):
                    raise
                raise ResponseValidationError(str(exc)) from None

        return wrapper

    # -- Step I -----------------------------------------------------------------------------------------
    def _to_schedule(self, answer: PlanAnswer) -> EventSchedule:
        attrs: dict[str, set[str]] = {}
        for ent in answer.entities:
            attrs.setdefault(" ".join(ent.name.split()), set()).update(a for a in ent.attributes if a.strip())
        events = []
        for k, ev in enumerate(answer.events):
            if ev.end <= ev.start:
                raise ResponseValidationError(f"events.{k}: end ({ev.end}) must be greater than start ({ev.start})")
            if ev.end > self.max_steps:
                raise ResponseValidationError(f"events.{k}: end ({ev.end}) exceeds the limit of {self.max_steps} steps")
            events.append(Event(ev.agent, ev.predicate, ev.target, ev.start, ev.end))
        used = {e.agent for e in events} | {e.target for e in events if e.target}
        entities = tuple(Entity(name, "", tuple(sorted(attrs.get(name, ())))) for name in sorted(used))
        return EventSchedule(tuple(events), "v", entities)

    async def _plan_events(self, text: str, demos: Sequence[Demonstration], trace: _Trace) -> EventSchedule | None:
        msgs = prompts.plan_messages(text, demos)
        return await self._ask(trace, "plan", msgs, PlanAnswer, self._checked(self._to_schedule))

    def _offline(self, text: str, trace: _Trace) -> EventSchedule:
        fallback = self.fallback
        if fallback is None:
            return EventSchedule()
        trace.degraded.append(f"plan: used {type(fallback).__name__} instead of the model")
        trace.steps.append(f"plan(fallback:{type(fallback).__name__})")
        return self._clip(fallback.schedule(text), trace)

    def _clip(self, sched: EventSchedule, trace: _Trace) -> EventSchedule:
        """Drop the events of an offline schedule that end after ``max_steps`` (the model's are refused)."""
        kept = tuple(e for e in sched.events if e.end <= self.max_steps)
        if len(kept) == len(sched.events):
            return sched
        trace.degraded.append(
            f"plan: dropped {len(sched.events) - len(kept)} offline events ending after max_steps={self.max_steps}"
        )
        used = {e.agent for e in kept} | {e.target for e in kept if e.target}
        return EventSchedule(kept, sched.time_unit, tuple(e for e in sched.entities if e.id in used))

    async def aschedule(self, text: str, *, demos: Sequence[Demonstration] | None = None) -> EventSchedule:
        """Step I only (falls back to the offline planner if the model fails)."""
        text = self._check_text(text)
        trace = self._trace()
        if demos is None:
            demos = self.selector.select(text, self.num_demos)
        sched = await self._plan_events(text, demos, trace) if text.strip() else EventSchedule()
        return sched if sched is not None else self._offline(text, trace)

    # -- Step III ---------------------------------------------------------------------------------------
    @staticmethod
    def _scene_from(answer: SceneAnswer, names: _Names) -> SceneGraph:
        child = names.fork()
        rels = [Relation(*child.relation(r)) for r in answer.relations]
        attrs = [(child.resolve(a.entity), a.attribute) for a in answer.attributes]
        sg = SceneGraph(attributes=tuple(attrs), relations=tuple(rels))
        names.adopt(child)
        return sg

    async def _enrich(
        self,
        text: str,
        skeleton: DynamicSceneGraph,
        demos: Sequence[Demonstration],
        names: _Names,
        trace: _Trace,
    ) -> DynamicSceneGraph:
        segs = skeleton.segments()
        enriched: list[SceneGraph] = [seg.graph for seg in segs]

        async def one(m: int, previous: SceneGraph | None) -> SceneGraph:
            seg = segs[m]
            following = segs[m + 1].graph if m + 1 < len(segs) else None
            msgs = prompts.imagine_messages(
                text,
                list(names.table.values()),
                previous,
                seg.graph,
                following,
                demos,
                window=self.sliding_window,
            )
            tag = f"imagine[{m}]"
            if trace.stopped is not None:  # the prompt has fallen back: keep the rest as it is
                trace.skipped += 1
                return seg.graph
            sg = await self._ask(trace, tag, msgs, SceneAnswer, self._checked(lambda a: self._scene_from(a, names)))
            if sg is None:
                trace.degraded.append(f"{tag}: kept the un-enriched scene graph")
                return seg.graph
            return sg.union(SceneGraph(relations=seg.graph.relations))  # actions are never dropped

        if self.sliding_window:
            for m in range(len(segs)):
                enriched[m] = await one(m, enriched[m - 1] if m > 0 else None)
            trace.steps.append("imagine(sliding-window)")
        else:
            enriched = list(await asyncio.gather(*(one(m, None) for m in range(len(segs)))))
            trace.steps.append("imagine(independent)")
        frames = [enriched[k] for k, seg in enumerate(segs) for _ in range(len(seg))]
        return skeleton.replace(frames=tuple(frames), entities=tuple(names.table.values()))

    async def _polish(
        self,
        text: str,
        skeleton: DynamicSceneGraph,
        enriched: DynamicSceneGraph,
        demos: Sequence[Demonstration],
        names: _Names,
        trace: _Trace,
    ) -> DynamicSceneGraph:
        msgs = prompts.polish_messages(text, list(names.table.values()), enriched, demos)

        def build(answer: PolishAnswer) -> DynamicSceneGraph:
            child = names.fork()
            segments = [
                {
                    "start": s.start,
                    "end": s.end,
                    "relations": [child.relation(r) for r in s.relations],
                    "attributes": [[child.resolve(a.entity), a.attribute] for a in s.attributes],
                }
                for s in answer.segments
            ]
            out = dsg_from_segments(segments, skeleton.replace(entities=tuple(child.table.values())))
            names.adopt(child)
            return out

        if trace.stopped is not None:
            trace.skipped += 1
            return enriched
        out = await self._ask(trace, "polish", msgs, PolishAnswer, self._checked(build))
        if out is None:
            trace.degraded.append("polish: kept the round-1 DSG")
            return enriched
        trace.steps.append("polish")
        return out.replace(entities=tuple(names.table.values()))

    # -- dsg.Planner --------------------------------------------------------------------------------------
    async def aplan(self, text: str, *, demos: Sequence[Demonstration] | None = None) -> DynamicSceneGraph:
        """Steps I-III for one prompt (async: many prompts can run concurrently, see :meth:`aplan_many`).

        ``demos`` overrides the selector (used by policy training)."""
        text = self._check_text(text)
        trace = self._trace()
        chosen: list[Demonstration] = []
        sched: EventSchedule | None = None
        if text.strip():
            chosen = list(demos) if demos is not None else list(self.selector.select(text, self.num_demos))
            sched = await self._plan_events(text, chosen, trace)
            if sched is not None:
                trace.steps.append("plan(llm)")
        if sched is None and text.strip():
            trace.stop("Step I fell back")  # no Step III calls for a prompt the model could not plan
            sched = self._offline(text, trace)
            fallback = self.fallback
            if sched.events and self.imagination and fallback is not None:
                full = fallback.plan(text)
                if full.schedule == sched:  # not clipped: keep the fallback's own imagination
                    trace.steps.append(f"imagine(fallback:{type(fallback).__name__})")
                    return self._finish(full, trace, chosen)
        if sched is None:
            sched = EventSchedule()
        if not sched.events:
            trace.degraded.append("plan: no event found in the text")
            return self._finish(schedule_to_dsg(sched, text=text, allow_empty=True), trace, chosen)
        skeleton = schedule_to_dsg(sched, text=text)
        out = skeleton
        if self.imagination:
            # selectors put the most relevant demonstration last: the context prompts take the last ones
            ctx = chosen[len(chosen) - self.num_context_demos :] if self.num_context_demos else []
            names = _Names(skeleton.entities)
            out = await self._enrich(text, skeleton, ctx, names, trace)
            if self.polish:
                out = await self._polish(text, skeleton, out, ctx, names, trace)
        return self._finish(out, trace, chosen)

    def _trace(self) -> _Trace:
        trace = _Trace()
        if self.deadline is not None:
            trace.deadline_at = time.monotonic() + self.deadline
        return trace

    def _check_text(self, text: object) -> str:
        text = _check_text(text)
        if len(text) > self.max_prompt_chars:
            raise DysenInputError(
                "text", text, f"{len(text)} characters, more than max_prompt_chars={self.max_prompt_chars}"
            )
        return text

    def _finish(self, d: DynamicSceneGraph, trace: _Trace, demos: Sequence[Demonstration]) -> DynamicSceneGraph:
        if trace.skipped:
            trace.degraded.append(f"skipped {trace.skipped} later model calls: {trace.stopped}")
        steps = [s for s in trace.steps if s.startswith("plan")]
        steps.append("schedule_to_dsg")
        steps += [s for s in trace.steps if not s.startswith("plan")]
        meta = (
            ("model", self.chat.model_id),
            ("selector", str(getattr(self.selector, "name", type(self.selector).__name__))),
            ("demos", ",".join(d.id for d in demos)),
            ("calls", str(trace.calls)),
            ("attempts", str(trace.attempts)),
            ("cached_calls", str(trace.cached)),
            ("repairs", str(trace.repairs)),
            ("prompt_tokens", str(trace.prompt_tokens)),
            ("completion_tokens", str(trace.completion_tokens)),
        )
        prov = Provenance(f"LLMPlanner({self.chat.model_id})", tuple(steps), tuple(trace.degraded), meta)
        return d.replace(provenance=prov)

    async def aplan_many(self, texts: Sequence[str], *, concurrency: int = 16) -> list[DynamicSceneGraph]:
        """:meth:`aplan` for many prompts with at most ``concurrency`` in flight; results in input order."""
        if concurrency < 1:
            raise DysenInputError("concurrency", concurrency, "must be >= 1")
        sem = asyncio.Semaphore(concurrency)

        async def one(t: str) -> DynamicSceneGraph:
            async with sem:
                return await self.aplan(t)

        return list(await asyncio.gather(*(one(t) for t in texts)))

    async def aclose(self) -> None:
        """Close the chat backend's connections of the running loop (the sync methods do it themselves)."""
        await aclose_quietly(self.chat)

    def schedule(self, text: str) -> EventSchedule:
        """Step I (sync)."""
        return run_sync(self.aschedule(text), close=self.chat)

    def plan(self, text: str) -> DynamicSceneGraph:
        """Steps I-III (sync)."""
        return run_sync(self.aplan(text), close=self.chat)

    def plan_many(self, texts: Sequence[str], *, concurrency: int = 16) -> list[DynamicSceneGraph]:
        return run_sync(self.aplan_many(texts, concurrency=concurrency), close=self.chat)


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise DysenInputError("text", text, f"must be a str, got {type(text).__name__}")
    return text
