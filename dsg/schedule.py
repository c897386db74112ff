"""Event schedules: the output of Dysen's Step I (action planning).

An :class:`Event` is the paper's ``(agent, event-predicate, target, (start-time, end-time))`` with
times on an integer grid in units of the atomic interval *v*. Intervals are half-open,
``[start, end)``, with ``start < end``: an event that occupies one step has ``end = start + 1``.
Events may overlap and run concurrently; the schedule keeps them in *physical* order (by start, then
end, then text), never in the order the caption mentions them. Times are at most
:data:`dsg.limits.MAX_FRAMES` (a DSG has one frame per step), checked with :class:`~dsg.errors.DSGLimitError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import limits
from .errors import DSGValidationError
from .graph import Entity, Relation, _entity_id, _nonempty, as_tuple, entity_table

__all__ = ["Event", "EventSchedule"]


def _time(name: str, value: object) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DSGValidationError(name, value, "must be an integer number of time units")
    if value < 0:
        raise DSGValidationError(name, value, "must be >= 0")
    return limits.check_limit(name, value, limits.MAX_FRAMES)


@dataclass(frozen=True)
class Event:
    """One action: ``agent --predicate--> target`` active during ``[start, end)``.

    ``agent`` and ``target`` are entity ids (see :class:`~dsg.graph.Entity`); ``target`` is ``None`` for
    intransitive actions ("the dog jumps"). ``0 <= start < end <= dsg.limits.MAX_FRAMES``.
    """

    agent: str
    predicate: str
    target: str | None = None
    start: int = 0
    end: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "agent", _entity_id("event.agent", self.agent))
        object.__setattr__(self, "predicate", _nonempty("event.predicate", self.predicate))
        if self.target is not None:
            object.__setattr__(self, "target", _entity_id("event.target", self.target))
        start, end = _time("event.start", self.start), _time("event.end", self.end)
        if end <= start:
            raise DSGValidationError("event.end", end, f"must be greater than start={start}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def relation(self) -> Relation:
        """The triplet this event contributes to every frame in ``[start, end)``."""
        return Relation(self.agent, self.predicate, self.target)

    @property
    def duration(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Event) -> bool:
        return self.start < other.end and other.start < self.end

    def sort_key(self) -> tuple[int, int, str, str, str]:
        return (self.start, self.end, self.agent, self.predicate, self.target or "")


def _row_fields(row: object) -> tuple[object, ...]:
    """``(agent, predicate, target, start, end)`` of a paper-style row (see :meth:`EventSchedule.from_tuples`)."""
    if isinstance(row, tuple | list):
        if len(row) == 5:
            return tuple(row)
        if len(row) == 4 and isinstance(row[3], tuple | list) and len(row[3]) == 2:
            return (*row[:3], *row[3])
    raise DSGValidationError("schedule.row", row, "expected (agent, predicate, target, (start, end))")


@dataclass(frozen=True)
class EventSchedule:
    """Events on a common time grid, in physical order.

    Args:
        events: the events; stored sorted by ``(start, end, agent, predicate, target)``. Duplicates are kept
            only once.
        time_unit: name of the atomic interval (``"v"`` in the paper).
        entities: optional entity table (labels and static attributes of the ids used by events);
            ids missing from it get an entity whose label is the id.
    """

    events: tuple[Event, ...] = ()
    time_unit: str = "v"
    entities: tuple[Entity, ...] = ()

    def __post_init__(self) -> None:
        evs = []
        for i, ev in enumerate(as_tuple("schedule.events", self.events)):
            if not isinstance(ev, Event):
                raise DSGValidationError(f"schedule.events[{i}]", ev, "must be an Event")
            evs.append(ev)
        object.__setattr__(self, "events", tuple(sorted(set(evs), key=Event.sort_key)))
        if not isinstance(self.time_unit, str) or not self.time_unit.strip():
            raise DSGValidationError("schedule.time_unit", self.time_unit, "must be a non-empty string")
        used = (i for ev in evs for i in (ev.agent, ev.target) if i is not None)
        object.__setattr__(self, "entities", entity_table(self.entities, used, "schedule.entities"))

    @classmethod
    def from_tuples(cls, rows: Iterable[tuple], time_unit: str = "v", entities: Iterable[Entity] = ()) -> EventSchedule:
        """Build from paper-style rows ``(agent, predicate, target, (start, end))`` or 5-tuples."""
        events = [Event(*_row_fields(row)) for row in as_tuple("schedule.rows", rows)]
        return cls(tuple(events), time_unit, as_tuple("schedule.entities", entities))

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    @property
    def horizon(self) -> int:
        """Number of time steps covered: ``max(end)``, 0 for an empty schedule."""
        return max((e.end for e in self.events), default=0)

    @property
    def boundaries(self) -> tuple[int, ...]:
        """Sorted distinct times at which some event starts or ends."""
        return tuple(sorted({t for e in self.events for t in (e.start, e.end)}))

    def entity(self, ident: str) -> Entity:
        for ent in self.entities:
            if ent.id == ident:
                return ent
        raise KeyError(ident)

    def active(self, t: int) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.start <= t < e.end)

    def concurrency(self) -> int:
        """Largest number of events active at the same step."""
        return max((len(self.active(t)) for t in self.boundaries), default=0)
