"""The dynamic scene graph (paper §3.2): a time-ordered list of scene graphs over one entity table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

from . import limits
from .errors import DSGValidationError
from .graph import Entity, Relation, SceneGraph, as_tuple, entity_table
from .labels import label_key
from .schedule import EventSchedule

__all__ = ["DynamicSceneGraph", "Provenance", "Segment", "Triplet"]

Triplet = tuple[str, str, "str | None"]
"""A label-level triplet ``(subject label, predicate, object label or None)``."""


@dataclass(frozen=True)
class Provenance:
    """Who produced a DSG and what was degraded on the way.

    Args:
        producer: name of the producer (``"RuleBasedPlanner"``, ``"LLMPlanner(gpt-4o-mini)"``, ``"world"``).
        steps: processing steps applied, in order (``("plan", "schedule_to_dsg", "imagine", "polish")``).
        degraded: human-readable notes on every fallback taken (``"imagine[2]: invalid JSON, kept SG"``).
        meta: free-form string metadata as sorted ``(key, value)`` pairs.
    """

    producer: str = "unknown"
    steps: tuple[str, ...] = ()
    degraded: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.producer, str):
            raise DSGValidationError("provenance.producer", self.producer, "must be a string")
        for name in ("steps", "degraded"):
            val = as_tuple(f"provenance.{name}", getattr(self, name))
            if not all(isinstance(v, str) for v in val):
                raise DSGValidationError(f"provenance.{name}", val, "must be a sequence of strings")
            object.__setattr__(self, name, val)
        object.__setattr__(self, "meta", _meta_pairs(self.meta))

    @property
    def is_degraded(self) -> bool:
        return bool(self.degraded)

    def with_step(self, step: str, degraded: tuple[str, ...] = ()) -> Provenance:
        return Provenance(self.producer, (*self.steps, step), self.degraded + tuple(degraded), self.meta)


def _meta_pairs(meta: object) -> tuple[tuple[str, str], ...]:
    """Sorted ``(key, value)`` string pairs of a mapping or of an iterable of pairs."""
    items = meta.items() if isinstance(meta, Mapping) else as_tuple("provenance.meta", meta)
    pairs: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise DSGValidationError("provenance.meta", item, "must be (key, value) pairs of strings")
        pairs[item[0]] = item[1]
    return tuple(sorted(pairs.items()))


@dataclass(frozen=True)
class Segment:
    """A maximal run of identical consecutive frames ``[start, end)`` sharing one scene graph."""

    start: int
    end: int
    graph: SceneGraph

    def __len__(self) -> int:
        return self.end - self.start


def _segment_run(i: int, seg: object) -> tuple[int, object]:
    """``(length, graph)`` of a :class:`Segment` or of a ``(length, graph)`` pair."""
    if isinstance(seg, Segment):
        return len(seg), seg.graph
    if isinstance(seg, tuple | list) and len(seg) == 2:
        length = seg[0]
        if isinstance(length, Integral) and not isinstance(length, bool) and length >= 0:
            return int(length), seg[1]
    raise DSGValidationError(f"segments[{i}]", seg, "must be a Segment or a (length >= 0, SceneGraph) pair")


@dataclass(frozen=True)
class DynamicSceneGraph:
    """A DSG: one :class:`SceneGraph` per time step, over one entity table.

    Args:
        frames: the scene graphs, in time order, at most :data:`dsg.limits.MAX_FRAMES` of them
            (:class:`~dsg.errors.DSGLimitError` otherwise). Every entity id they mention must be in ``entities``
            (temporal consistency: an id names the same object in every frame).
        entities: the entity table. Entities referenced by frames but missing here are added with their
            id as label; entities in the table need not appear in any frame.
        text: the source text (prompt or caption), if any.
        time_unit: unit of one step (``"v"`` for planner output, ``"frame"`` after :func:`~dsg.align`).
        schedule: the event schedule the DSG was built from, if any.
        provenance: who produced it and what was degraded.
    """

    frames: tuple[SceneGraph, ...] = ()
    entities: tuple[Entity, ...] = ()
    text: str | None = None
    time_unit: str = "v"
    schedule: EventSchedule | None = None
    provenance: Provenance = field(default_factory=Provenance)
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        frames = as_tuple("frames", self.frames)
        limits.check_limit("num_frames", len(frames), limits.MAX_FRAMES)
        for m, sg in enumerate(frames):
            if not isinstance(sg, SceneGraph):
                raise DSGValidationError("frames", sg, "must be a SceneGraph", frame=m)
        object.__setattr__(self, "frames", frames)
        used = (i for sg in frames for i in sg.objects)
        object.__setattr__(self, "entities", entity_table(self.entities, used, "entities"))
        if self.text is not None and not isinstance(self.text, str):
            raise DSGValidationError("text", self.text, "must be a string or None")
        if not isinstance(self.time_unit, str) or not self.time_unit:
            raise DSGValidationError("time_unit", self.time_unit, "must be a non-empty string")
        if self.schedule is not None and not isinstance(self.schedule, EventSchedule):
            raise DSGValidationError("schedule", self.schedule, "must be an EventSchedule or None")
        if not isinstance(self.provenance, Provenance):
            raise DSGValidationError("provenance", self.provenance, "must be a Provenance")

    # -- container protocol -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, m: int) -> SceneGraph:
        return self.frames[m]

    def __iter__(self) -> Iterator[SceneGraph]:
        return iter(self.frames)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def is_empty(self) -> bool:
        return all(sg.is_empty for sg in self.frames)

    def entity(self, ident: str) -> Entity:
        return self.entity_table[ident]

    @property
    def entity_table(self) -> dict[str, Entity]:
        table = self._cache.get("table")
        if table is None:
            table = self._cache["table"] = {e.id: e for e in self.entities}
        return table

    # -- views ------------------------------------------------------------------------------------
    def segments(self) -> tuple[Segment, ...]:
        """Maximal runs of identical consecutive frames (what Step III enriches, once per segment)."""
        out: list[Segment] = []
        for m, sg in enumerate(self.frames):
            if out and out[-1].graph == sg:
                out[-1] = Segment(out[-1].start, m + 1, sg)
            else:
                out.append(Segment(m, m + 1, sg))
        return tuple(out)

    @classmethod
    def from_segments(cls, segments: list[tuple[int, SceneGraph]] | list[Segment], **kwargs: Any) -> DynamicSceneGraph:
        """Inverse of :meth:`segments`: ``[(length, graph), ...]`` or ``Segment`` objects.

        The total length is checked against :data:`dsg.limits.MAX_FRAMES` before the frames are built.
        """
        runs = [_segment_run(i, seg) for i, seg in enumerate(as_tuple("segments", segments))]
        limits.check_limit("num_frames", sum(n for n, _ in runs), limits.MAX_FRAMES)
        return cls(tuple(graph for n, graph in runs for _ in range(n)), **kwargs)

    def label_of(self, ident: str | None) -> str | None:
        return None if ident is None else self.entity_table[ident].label

    def triplets(self, m: int) -> frozenset[Triplet]:
        """Label-level triplets of frame ``m`` (what TriRec compares)."""
        return frozenset(
            (self.label_of(r.subject), r.predicate, self.label_of(r.object))  # type: ignore[misc]
            for r in self.frames[m].relations
        )

    def triplet_keys(self, m: int) -> frozenset[tuple[str, str, str | None]]:
        """Triplets of frame ``m`` under :func:`~dsg.labels.label_key` (lemmatised, for matching)."""
        return frozenset(
            (label_key(s), label_key(p), None if o is None else label_key(o)) for s, p, o in self.triplets(m)
        )

    def object_attributes(self, m: int) -> frozenset[tuple[str, str]]:
        """Label-level ``(object label, attribute)`` pairs of frame ``m``, static attributes included."""
        sg = self.frames[m]
        pairs = {(self.entity_table[e].label, a) for e, a in sg.attributes}
        pairs |= {(self.entity_table[o].label, a) for o in sg.objects for a in self.entity_table[o].attributes}
        return frozenset(pairs)

    def relations(self) -> frozenset[Relation]:
        """Every relation that holds in some frame."""
        return frozenset(r for sg in self.frames for r in sg.relations)

    # -- functional updates -------------------------------------------------------------------------
    def replace(self, **changes: Any) -> DynamicSceneGraph:
        fields = {
            "frames": self.frames,
            "entities": self.entities,
            "text": self.text,
            "time_unit": self.time_unit,
            "schedule": self.schedule,
            "provenance": self.provenance,
        }
        fields.update(changes)
        return DynamicSceneGraph(**fields)
