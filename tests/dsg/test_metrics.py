import pytest
from hypothesis import given

from dsg import (
    DSGValidationError,
    DynamicSceneGraph,
    EventSchedule,
    event_order,
    interval_iou,
    planning_accuracy,
    scene_statistics,
    schedule_to_dsg,
    triplet_prf,
    trirec,
    trirec_per_frame,
)
from dsg.testing import dynamic_scene_graphs, event_schedules


@given(dynamic_scene_graphs(), dynamic_scene_graphs())
def test_metrics_in_unit_interval_and_trirec_self_is_one(a, b):
    assert trirec(a, a) == 1.0 and trirec(a, a, mode="video") == 1.0
    assert 0.0 <= trirec(a, b, mode="video") <= 1.0
    if a.num_frames == b.num_frames:
        assert 0.0 <= trirec(a, b) <= 1.0
        assert all(0.0 <= x <= 1.0 for x in trirec_per_frame(a, b))
    ta = [t for m in range(a.num_frames) for t in a.triplets(m)]
    tb = [t for m in range(b.num_frames) for t in b.triplets(m)]
    prf = triplet_prf(ta, tb)
    assert all(0.0 <= x <= 1.0 for x in (prf.precision, prf.recall, prf.f1))


@given(event_schedules(), event_schedules())
def test_schedule_metrics_bounds(a, b):
    acc = planning_accuracy(a, b)
    assert all(0.0 <= x <= 1.0 for x in (acc.triplet, acc.predicate, acc.argument))
    assert planning_accuracy(a, a).triplet == 1.0
    order = event_order(a, b)
    assert -1.0 <= order.kendall_tau <= 1.0 and 0.0 <= order.pairwise_accuracy <= 1.0
    assert 0.0 <= interval_iou(a, b) <= 1.0
    assert interval_iou(a, a) == 1.0


def test_trirec_equation_7():
    gold = schedule_to_dsg(
        EventSchedule.from_tuples([("man", "sit on", "chair", (0, 2)), ("dog", "jump", None, (1, 2))])
    )
    pred = schedule_to_dsg(EventSchedule.from_tuples([("Men", "sitting on", "chair", (0, 2))]))
    assert trirec_per_frame(pred, gold) == [1.0, 0.5]
    assert trirec(pred, gold) == pytest.approx(2 / 3)
    assert trirec(pred, gold, mode="video") == 0.5
    with pytest.raises(DSGValidationError, match="align first"):
        trirec(schedule_to_dsg(EventSchedule.from_tuples([("a", "b", None, (0, 5))])), gold)
    with pytest.raises(DSGValidationError, match="mode"):
        trirec(pred, gold, mode="x")


def test_empty_inputs_are_defined():
    e = DynamicSceneGraph()
    assert trirec(e, e) == 1.0
    assert triplet_prf([], []).f1 == 1.0
    assert triplet_prf([("a", "b", None)], []).precision == 0.0
    empty = EventSchedule()
    assert planning_accuracy(empty, empty).triplet == 1.0
    assert event_order(empty, empty).pairwise_accuracy == 1.0
    assert scene_statistics(e).triplets == 0.0


def test_planning_accuracy_fig9():
    gold = EventSchedule.from_tuples([("woman", "put", "bottle", (0, 1)), ("woman", "take", "mat", (1, 2))])
    pred = EventSchedule.from_tuples([("woman", "put", "bottle", (0, 1)), ("woman", "grab", "mat", (1, 2))])
    acc = planning_accuracy(pred, gold)
    assert acc.triplet == 0.5 and acc.predicate == 0.5 and acc.argument == 1.0


def test_event_order_detects_swaps():
    gold = EventSchedule.from_tuples(
        [("a", "run", None, (0, 1)), ("b", "jump", None, (1, 2)), ("c", "sit", None, (2, 3))]
    )
    same = EventSchedule.from_tuples(
        [("a", "run", None, (0, 2)), ("b", "jump", None, (2, 3)), ("c", "sit", None, (3, 4))]
    )
    rev = EventSchedule.from_tuples(
        [("a", "run", None, (2, 3)), ("b", "jump", None, (1, 2)), ("c", "sit", None, (0, 1))]
    )
    assert event_order(same, gold).kendall_tau == 1.0 and event_order(same, gold).pairwise_accuracy == 1.0
    assert event_order(rev, gold).kendall_tau == -1.0 and event_order(rev, gold).pairwise_accuracy == 0.0


def test_scene_statistics_counts():
    s = EventSchedule.from_tuples([("a", "hold", "b", (0, 2)), ("a", "run", None, (1, 2))])
    st = scene_statistics(schedule_to_dsg(s))
    assert st.triplets == 1.5 and st.num_frames == 2
    assert scene_statistics(schedule_to_dsg(s), per="segment").triplets == 1.5
    with pytest.raises(DSGValidationError, match="per"):
        scene_statistics(schedule_to_dsg(s), per="x")


def test_repeated_events_match_by_occurrence_across_grids():
    pred = EventSchedule.from_tuples(
        [("a", "jump", None, (0, 1)), ("b", "spin", None, (1, 2)), ("a", "jump", None, (2, 3))]
    )
    gold = EventSchedule.from_tuples(
        [("a", "jump", None, (1, 7)), ("b", "spin", None, (7, 9)), ("a", "jump", None, (9, 15))]
    )
    assert event_order(pred, gold).kendall_tau == 1.0
