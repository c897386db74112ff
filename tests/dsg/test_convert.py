import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsg import (
    DSGValidationError,
    EmptyScheduleError,
    EventSchedule,
    align,
    align_schedule,
    dsg_to_schedule,
    frame_map,
    schedule_to_dsg,
)
from dsg.testing import event_schedules


@given(event_schedules(min_events=1))
def test_each_event_triplet_exactly_in_its_frames(schedule):
    dsg = schedule_to_dsg(schedule)
    assert dsg.num_frames == schedule.horizon  # no trailing empty frame
    for ev in schedule.events:
        for m in range(dsg.num_frames):
            holds = ev.relation in dsg.frames[m].relations
            covered = any(e.relation == ev.relation and e.start <= m < e.end for e in schedule.events)
            assert holds == covered
    # nothing that is not an event's triplet
    rels = {e.relation for e in schedule.events}
    assert all(r in rels for sg in dsg.frames for r in sg.relations)


@given(event_schedules(min_events=1))
def test_changes_only_at_event_boundaries(schedule):
    dsg = schedule_to_dsg(schedule)
    bounds = set(schedule.boundaries)
    for m in range(1, dsg.num_frames):
        if dsg.frames[m] != dsg.frames[m - 1]:
            assert m in bounds
    segs = dsg.segments()
    assert sum(len(s) for s in segs) == dsg.num_frames
    assert all(a.graph != b.graph for a, b in itertools.pairwise(segs))


def test_paper_example_segments():
    s = EventSchedule.from_tuples(
        [
            ("lady", "sitting on", "chair", (0, 5)),
            ("lady", "drinking", "coffee", (1, 2)),
            ("lady", "meeting", "friend", (3, 4)),
            ("lady", "greeting", "friend", (3, 4)),
            ("lady", "looking out", "window", (3, 5)),
        ]
    )
    dsg = schedule_to_dsg(s, text="a lady ...")
    assert dsg.num_frames == 5
    assert [(g.start, g.end) for g in dsg.segments()] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert len(dsg.frames[3].relations) == 4
    assert "schedule_to_dsg" in dsg.provenance.steps


def test_empty_schedule_is_an_explicit_error_or_empty_dsg():
    with pytest.raises(EmptyScheduleError):
        schedule_to_dsg(EventSchedule())
    empty = schedule_to_dsg(EventSchedule(), allow_empty=True)
    assert empty.num_frames == 0 and empty.segments() == ()
    assert align(empty, 4).num_frames == 4


def test_leading_gap_is_empty_frames():
    dsg = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (2, 3))]))
    assert dsg.num_frames == 3 and dsg.frames[0].is_empty and not dsg.frames[2].is_empty


@given(event_schedules(min_events=1, max_events=4))
def test_dsg_to_schedule_inverts_when_runs_do_not_touch(schedule):
    dsg = schedule_to_dsg(schedule)
    back = dsg_to_schedule(dsg)
    if all(
        not (a.relation == b.relation and a.start <= b.end and b.start <= a.end)
        for i, a in enumerate(schedule.events)
        for b in schedule.events[i + 1 :]
    ):
        assert back.events == schedule.events


@given(event_schedules(min_events=1), st.integers(1, 40))
def test_align_preserves_event_order(schedule, num_frames):
    dsg = schedule_to_dsg(schedule)
    aligned = align(dsg, num_frames)
    assert aligned.num_frames == num_frames and aligned.time_unit == "frame"
    fmap = frame_map(dsg.num_frames, num_frames)
    assert fmap == sorted(fmap) and fmap[0] == 0
    if num_frames >= dsg.num_frames:
        assert fmap[-1] == dsg.num_frames - 1 and set(fmap) == set(range(dsg.num_frames))
    a_sched = align_schedule(schedule, num_frames)
    src = {e.relation: e for e in schedule.events}
    starts = [(src[e.relation].start, e.start) for e in a_sched.events if e.relation in src]
    for (s0, f0), (s1, f1) in itertools.pairwise(starts):
        if s0 < s1:
            assert f0 <= f1
    assert all(0 <= e.start < e.end <= num_frames for e in a_sched.events)


def test_align_frames_follow_schedule():
    s = EventSchedule.from_tuples([("a", "run", None, (0, 1)), ("b", "jump", None, (1, 2))])
    aligned = align(schedule_to_dsg(s), 16)
    assert aligned.frames[0] == aligned.frames[7] != aligned.frames[8] == aligned.frames[15]
    assert aligned.schedule.events[1].start == 8


def test_align_errors():
    dsg = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (0, 1))]))
    with pytest.raises(DSGValidationError, match="num_frames"):
        align(dsg, 0)
    with pytest.raises(DSGValidationError, match="num_steps"):
        frame_map(0, 3)


def test_align_to_step_starts():
    s = EventSchedule.from_tuples(
        [("a", "run", None, (0, 1)), ("b", "jump", None, (1, 2)), ("c", "spin", None, (2, 3))]
    )
    dsg = schedule_to_dsg(s)
    aligned = align(dsg, 16, step_starts=[3, 5, 12])
    # frames before the first start show step 0; step k from its start to the next one's
    assert [dsg.frames.index(sg) for sg in aligned.frames] == [0] * 5 + [1] * 7 + [2] * 4
    assert [(e.start, e.end) for e in aligned.schedule.events] == [(0, 5), (5, 12), (12, 16)]
    assert "step_starts=[3, 5, 12]" in aligned.provenance.steps[-1]
    assert frame_map(3, 16, step_starts=[0, 8, 8]) == [0] * 8 + [2] * 8  # a step of no frames is skipped
    assert align(dsg, 16, step_starts=None) == align(dsg, 16)


@given(event_schedules(min_events=1), st.data())
def test_align_to_step_starts_preserves_order(schedule, data):
    dsg = schedule_to_dsg(schedule)
    frames = data.draw(st.integers(1, 40))
    starts = sorted(data.draw(st.lists(st.integers(0, frames - 1), min_size=dsg.num_frames, max_size=dsg.num_frames)))
    fmap = frame_map(dsg.num_frames, frames, step_starts=starts)
    assert fmap == sorted(fmap) and len(fmap) == frames
    bounds = [0, *starts[1:]]
    assert all(fmap[f] == max(k for k, b in enumerate(bounds) if b <= f) for f in range(frames))
    aligned = align_schedule(schedule, frames, dsg.num_frames, step_starts=starts)
    for a, b in itertools.pairwise(sorted(zip(schedule.events, aligned.events), key=lambda p: p[0].start)):
        assert a[1].start <= b[1].start
    assert all(0 <= e.start < e.end <= frames for e in aligned.events)


@pytest.mark.parametrize(
    "starts, match",
    [
        ([0, 5], "one frame per step"),
        ([0, 5, 3], "non-decreasing"),
        ([0, 5, 16], r"entry 2 must be a frame in \[0, 16\)"),
        ([0, 5, True], "entry 2"),
        ("abc", "sequence of frame indices"),
    ],
)
def test_align_step_starts_errors(starts, match):
    s = EventSchedule.from_tuples(
        [("a", "run", None, (0, 1)), ("b", "jump", None, (1, 2)), ("c", "spin", None, (2, 3))]
    )
    with pytest.raises(DSGValidationError, match=match):
        align(schedule_to_dsg(s), 16, step_starts=starts)
