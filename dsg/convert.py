"""Step II of the paper (events -> DSG), its inverse, and alignment of the step grid to video frames.

Frame and step counts are at most :data:`dsg.limits.MAX_FRAMES`; a larger one raises
:class:`~dsg.errors.DSGLimitError` before any frame is built.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

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


def frame_map(num_steps: int, num_frames: int, *, step_starts: Sequence[int] | None = None) -> list[int]:
    """Index of the step shown in each of ``num_frames`` frames (non-decreasing, covers both ends).

    Frame ``f`` shows step ``floor(f * num_steps / num_frames)``: each step gets an (almost) equal share
    of frames. With fewer frames than steps some steps are skipped, never reordered.

    ``step_starts``: the frame at which each step begins instead (e.g. a clip's annotated event times,
    non-decreasing, each in ``[0, num_frames)``); frames before the first start show step 0, and a step
    that starts where the next one starts is skipped.
    """
    num_steps, num_frames = _count("num_steps", num_steps), _count("num_frames", num_frames)
    if step_starts is None:
        return [min(num_steps - 1, (f * num_steps) // num_frames) for f in range(num_frames)]
    starts = _step_starts(step_starts, num_steps, num_frames)
    return [bisect.bisect_right(starts, f) - 1 for f in range(num_frames)]


def _step_starts(step_starts: Sequence[int], num_steps: int, num_frames: int) -> list[int]:
    """``step_starts`` checked (one non-decreasing frame per step, within the video), the first set to 0."""
    if isinstance(step_starts, (str, bytes)) or not isinstance(step_starts, Sequence):
        raise DSGValidationError("step_starts", step_starts, "must be a sequence of frame indices")
    starts = list(step_starts)
    if len(starts) != num_steps:
        raise DSGValidationError("step_starts", step_starts, f"must give one frame per step ({num_steps})")
    for k, f in enumerate(starts):
        if isinstance(f, bool) or not isinstance(f, int) or not 0 <= f < num_frames:
            raise DSGValidationError("step_starts", step_starts, f"entry {k} must be a frame in [0, {num_frames})")
        if k and f < starts[k - 1]:
            raise DSGValidationError("step_starts", step_starts, "must be non-decreasing")
    return [0, *starts[1:]]


def align(dsg: DynamicSceneGraph, num_frames: int, *, step_starts: Sequence[int] | None = None) -> DynamicSceneGraph:
    """Map the DSG's step grid onto ``num_frames`` video frames (e.g. 16 keyframes).

    The result has exactly ``num_frames`` frames, frame ``f`` holding step :func:`frame_map` ``[f]``,
    so frame-aligned conditioning can give frame ``f`` of the video the scene graph of its step. The
    event order is preserved (the map is monotone); the schedule, if any, is mapped with
    :func:`align_schedule`. An empty DSG gives ``num_frames`` empty scene graphs.

    ``step_starts`` (one frame per step, see :func:`frame_map`) aligns the steps to known times instead
    of spreading them evenly: a planned DSG aligned to the annotated event times of its training clip.
    """
    if not isinstance(dsg, DynamicSceneGraph):
        raise DSGValidationError("dsg", dsg, "must be a DynamicSceneGraph")
    num_frames = _count("num_frames", num_frames)
    if dsg.num_frames == 0:
        if step_starts is not None:
            raise DSGValidationError("step_starts", step_starts, "cannot time a DSG without steps")
        frames = (SceneGraph(),) * num_frames
        sched = dsg.schedule
    else:
        frames = tuple(dsg.frames[s] for s in frame_map(dsg.num_frames, num_frames, step_starts=step_starts))
        sched = (
            None
            if dsg.schedule is None
            else align_schedule(dsg.schedule, num_frames, dsg.num_frames, step_starts=step_starts)
        )
    step = f"align({num_frames})" if step_starts is None else f"align({num_frames}, step_starts={list(step_starts)})"
    return dsg.replace(frames=frames, time_unit="frame", schedule=sched, provenance=dsg.provenance.with_step(step))


def align_schedule(
    schedule: EventSchedule,
    num_frames: int,
    num_steps: int | None = None,
    *,
    step_starts: Sequence[int] | None = None,
) -> EventSchedule:
    """Map event intervals from the step grid onto ``num_frames`` frames.

    Step ``s`` covers frames ``[ceil(s * F / M), ceil((s + 1) * F / M))`` (the frames :func:`frame_map`
    assigns to it), or, with ``step_starts``, ``[step_starts[s], step_starts[s + 1])`` (the first from
    frame 0); an event keeps at least one frame, so short events never vanish. Start order is
    preserved. ``num_steps`` defaults to the schedule's horizon.
    """
    if not isinstance(schedule, EventSchedule):
        raise DSGValidationError("schedule", schedule, "must be an EventSchedule")
    num_frames = _count("num_frames", num_frames)
    if num_steps is None and schedule.horizon == 0:
        raise EmptyScheduleError("cannot align an empty schedule without num_steps")
    steps = _count("num_steps", schedule.horizon if num_steps is None else num_steps)

    starts = None if step_starts is None else _step_starts(step_starts, steps, num_frames)

    def to_frame(s: int) -> int:
        if starts is not None:
            return starts[s] if s < steps else num_frames
        return min(num_frames, math.ceil(s * num_frames / steps))

    events = []
    for ev in schedule.events:
        start = min(to_frame(ev.start), num_frames - 1)
        end = max(start + 1, to_frame(ev.end))
        events.append(Event(ev.agent, ev.predicate, ev.target, start, end))
    return EventSchedule(tuple(events), "frame", schedule.entities)
