"""Issue 18: the calibrated fallback for overlaps across sentences that no word marks."""

from __future__ import annotations

import pytest

from dysen import RuleBasedPlanner
from dysen.rule_based.overlap import OverlapModel, extend_overlaps, overlaps


def test_fit_separates_a_feature_and_round_trips() -> None:
    examples = [({"a:progressive": 1.0}, True)] * 40 + [({"a:other": 1.0}, False)] * 40
    examples += [({"a:progressive": 1.0}, False)] * 5 + [({"a:other": 1.0}, True)] * 5
    model = OverlapModel.fit(examples, min_count=1)
    assert model.probability({"a:progressive": 1.0}) > 0.7 > 0.3 > model.probability({"a:other": 1.0})
    again = OverlapModel.from_dict(model.to_dict())
    assert again.probability({"a:progressive": 1.0}) == pytest.approx(model.probability({"a:progressive": 1.0}), 1e-4)
    with pytest.raises(ValueError, match="overlap model"):
        OverlapModel.from_dict({"format": "other"})


def test_extents_and_calibration() -> None:
    model = OverlapModel({})
    p = [[0.0, 0.9, 0.8, 0.1], [0.0, 0.0, 0.2, 0.2], [0.0, 0.0, 0.0, 0.9], [0.0] * 4]
    assert model.extents_from(p, 0.5) == [2, 0, 1, 0]
    gold = [(0.0, 10.0), (1.0, 2.0), (3.0, 5.0), (6.0, 7.0)]  # sentence 0 spans 1 and 2, 2 does not span 3
    tau = model.calibrate([(p, gold)], grid=[0.05, 0.5, 0.95])
    assert tau == 0.95 or model.extents_from(p, tau)[0] == 2
    assert overlaps((0, 2), (1, 3)) and not overlaps((0, 1), (1, 2))


def test_extend_overlaps_reaches_the_spanned_sentences() -> None:
    class Ev:
        def __init__(self, start: int, end: int) -> None:
            self.start, self.end = start, end

    events = [Ev(0, 1), Ev(1, 2), Ev(2, 3), Ev(3, 4)]
    extend_overlaps(events, [0, 1, 1, 2], {0: 1})
    assert [(e.start, e.end) for e in events] == [(0, 3), (1, 2), (2, 3), (3, 4)]


def test_planner_with_an_overlap_model_spans_later_sentences() -> None:
    text = "A man is standing in a gym talking to the camera. He grabs a rope. He pulls the rope down."
    plain = RuleBasedPlanner().schedule(text).events
    model = OverlapModel({"a:progressive": 8.0, "gap:1": 1.0}, bias=-6.0)
    spanned = RuleBasedPlanner(overlap=model).schedule(text).events
    assert [e.start for e in spanned] == [e.start for e in plain]  # the text order of starts is kept
    first = next(e for e in spanned if e.predicate.startswith("stand"))
    grab = next(e for e in spanned if e.predicate == "grab")
    assert first.start < grab.start < first.end  # standing still goes on when he grabs the rope


def test_the_shipped_model_loads() -> None:
    model = OverlapModel.default()
    assert model.weights and 0.0 < model.threshold < 1.0
    assert "ActivityNet" in model.meta["data"]
