"""Step II of the paper (events -> DSG), its inverse, and alignment of the step grid to video frames.

Frame and step counts are at most :data:`dsg.limits.MAX_FRAMES`; a larger one raises
:class:`~dsg.errors.DSGLimitError` before any frame is built.
"""

from __future__ import annotations

import itertools
import math

from . import limits
from .dynamic import DynamicSceneGraph, Provenance
from .errors import DSGValidationError, EmptyScheduleError
from .graph import Relation, SceneGraph
from .schedule import Event, EventSchedule

__all__ = ["align", "align_schedule", "dsg_to_schedule", "frame_map", "schedule_to_dsg"]


def _count(name: str, value: object) -> int:
    """``value`` if it is a positive integer within :data:`dsg.limits.MAX_FRAMES`, else a typed error."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DSGValidationError(name, value, "must be a positive integer")
    return limits.check_limit(name, value, limits.MAX_FRAMES)


def schedule_to_dsg(
    schedule: EventSchedule,
    *,
    text: str | None = None,
    provenance: Provenance | None = None,
    allow_empty: bool = False,
) -> DynamicSceneGraph:
    """Convert an event schedule into a DSG (paper §4.1, Step II: event-to-DSG conversion).

    Frame ``m`` (``0 <= m < schedule.horizon``) holds exactly the triplets of the events active at ``m``,
    i.e. with ``start <= m < end``. Triplets are therefore added or removed only at event boundaries, and
    the DSG ends with the last event (no trailing empty frame). Steps in a gap between events are empty
    scene graphs that still list no objects. Consecutive identical frames share one :class:`SceneGraph`
    object, and :meth:`DynamicSceneGraph.segments` recovers the distinct segments so that later steps
    can work once per segment rather than once per frame.

    Args:
        schedule: the events.
        text: source text stored on the DSG.
        provenance: defaults to ``Provenance("schedule_to_dsg")``; ``"schedule_to_dsg"`` is appended to its steps.
        allow_empty: an empty schedule raises :class:`~dsg.errors.EmptyScheduleError` unless this is
            true, in which case an explicit empty DSG (zero frames) is returned.
    """
    if not isinstance(schedule, EventSchedule):
        raise DSGValidationError("schedule", schedule, "must be an EventSchedule")
    prov = (provenance or Provenance("schedule_to_dsg")).with_step("schedule_to_dsg")
    if not schedule.events:
        if allow_empty:
            return DynamicSceneGraph((), schedule.entities, text, schedule.time_unit, schedule, prov)
        raise EmptyScheduleError("the event schedule has no events; pass allow_empty=True for an empty DSG")
    bounds = schedule.boundaries
    frames: list[SceneGraph] = []
    for lo, hi in itertools.pairwise(bounds):
        rels = tuple(ev.relation for ev in schedule.events if ev.start <= lo < ev.end)
        sg = SceneGraph(relations=rels)
        frames.extend([sg] * (hi - lo))
    # frames before the first event start are empty
    frames = [SceneGraph()] * bounds[0] + frames
    return DynamicSceneGraph(tuple(frames), schedule.entities, text, schedule.time_unit, schedule, prov)


def dsg_to_schedule(dsg: DynamicSceneGraph, *, time_unit: str | None = None) -> EventSchedule:
    """Inverse of :func:`schedule_to_dsg`: every maximal run of frames holding a relation becomes one event.

    ``dsg_to_schedule(schedule_to_dsg(s)) == s`` whenever no two events of ``s`` with the same triplet
    touch or overlap (those merge into one run, the only information Step II loses).
    """
    open_runs: dict[Relation, int] = {}
    events: list[Event] = []
    for m, sg in enumerate((*dsg.frames, SceneGraph())):
        current = set(sg.relations)
        for rel in list(open_runs):
            if rel not in current:
                events.append(Event(rel.subject, rel.predicate, rel.object, open_runs.pop(rel), m))
        for rel in sg.relations:
            open_runs.setdefault(rel, m)
    entities = tuple(e for e in dsg.entities if any(e.id in (ev.agent, ev.target) for ev in events))
    return EventSchedule(tuple(events), time_unit or dsg.time_unit, entities)


def frame_map(num_steps: int, num_frames: int) -> list[int]:
    """Index of the step shown in each of ``num_frames`` frames (non-decreasing, covers both ends).

    Frame ``f`` shows step ``floor(f * num_steps / num_frames)``: each step gets an (almost) equal share
    of frames. With fewer frames than steps some steps are skipped, never reordered.
    """
    num_steps, num_frames = _count("num_steps", num_steps), _count("num_frames", num_frames)
    return [min(num_steps - 1, (f * num_steps) // num_frames) for f in range(num_frames)]


def align(dsg: DynamicSceneGraph, num_frames: int) -> DynamicSceneGraph:
    """Map the DSG's step grid onto ``num_frames`` video frames (e.g. 16 keyframes).

    The result has exactly ``num_frames`` frames, frame ``f`` holding step :func:`frame_map` ``[f]``,
    so frame-aligned conditioning can give frame ``f`` of the video the scene graph of its step. The
    event order is preserved (the map is monotone); the schedule, if any, is mapped with
    :func:`align_schedule`. An empty DSG gives ``num_frames`` empty scene graphs.
    """
    if not isinstance(dsg, DynamicSceneGraph):
        raise DSGValidationError("dsg", dsg, "must be a DynamicSceneGraph")
    num_frames = _count("num_frames", num_frames)
    if dsg.num_frames == 0:
        frames = (SceneGraph(),) * num_frames
        sched = dsg.schedule
    else:
        frames = tuple(dsg.frames[s] for s in frame_map(dsg.num_frames, num_frames))
        sched = None if dsg.schedule is None else align_schedule(dsg.schedule, num_frames, dsg.num_frames)
    return dsg.replace(
        frames=frames, time_unit="frame", schedule=sched, provenance=dsg.provenance.with_step(f"align({num_frames})")
    )


def align_schedule(schedule: EventSchedule, num_frames: int, num_steps: int | None = None) -> EventSchedule:
    """Map event intervals from the step grid onto ``num_frames`` frames.

    Step ``s`` covers frames ``[ceil(s * F / M), ceil((s + 1) * F / M))`` (the frames :func:`frame_map`
    assigns to it); an event keeps at least one frame, so short events never vanish. Start order is
    preserved. ``num_steps`` defaults to the schedule's horizon.
    """
    if not isinstance(schedule, EventSchedule):
        raise DSGValidationError("schedule", schedule, "must be an EventSchedule")
    num_frames = _count("num_frames", num_frames)
    if num_steps is None and schedule.horizon == 0:
        raise EmptyScheduleError("cannot align an empty schedule without num_steps")
    steps = _count("num_steps", schedule.horizon if num_steps is None else num_steps)

    def to_frame(s: int) -> int:
        return min(num_frames, math.ceil(s * num_frames / steps))

    events = []
    for ev in schedule.events:
        start = min(to_frame(ev.start), num_frames - 1)
        end = max(start + 1, to_frame(ev.end))
        events.append(Event(ev.agent, ev.predicate, ev.target, start, end))
    return EventSchedule(tuple(events), "frame", schedule.entities)
