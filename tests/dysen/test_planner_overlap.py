"""Issue 18: the calibrated fallback for overlaps across sentences that no word marks."""

from __future__ import annotations

import json
import math

import pytest

from dysen import RuleBasedPlanner
from dysen.rule_based.overlap import OverlapModel, extend_overlaps, overlaps, pair_counts


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
    assert (model.weights or model.trees) and 0.0 < model.threshold < 1.0
    assert "ActivityNet" in model.meta["data"]


def _interaction_examples() -> list[tuple[dict[str, float], bool]]:
    """Overlap exactly when an ongoing first sentence meets an early position: no single weight separates it."""
    out = []
    for k in range(400):
        progressive, rel = k % 2 == 0, (k % 10) / 10
        feats = {"rel_a": rel, **({"a:progressive": 1.0} if progressive else {})}
        out.append((feats, progressive == (rel < 0.5)))
    return out


def test_boosted_trees_read_an_interaction_and_round_trip(tmp_path) -> None:
    pytest.importorskip("sklearn")
    examples = _interaction_examples()
    boosted = OverlapModel.fit_boosted(examples, min_count=1, max_iter=60, learning_rate=0.3)
    linear = OverlapModel.fit(examples, min_count=1)

    def accuracy(model: OverlapModel) -> float:
        return sum((model.probability(f) > 0.5) == y for f, y in examples) / len(examples)

    assert accuracy(boosted) == 1.0 and accuracy(linear) < 0.8
    path = tmp_path / "model.json"
    boosted.save(path)
    again = OverlapModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert len(again.trees) == 60 and not again.weights
    for feats, _ in examples[:20]:
        assert again.probability(feats) == pytest.approx(boosted.probability(feats), abs=1e-4)


def test_model_files_of_both_formats_load_and_bad_trees_are_refused() -> None:
    v1 = {"format": "dysen-overlap-model/1", "bias": -1.0, "threshold": 0.4, "weights": {"a:progressive": 2.0}}
    model = OverlapModel.from_dict(v1)
    assert model.probability({"a:progressive": 1.0}) == pytest.approx(1 / (1 + math.exp(-1.0)))
    tree = {"format": "dysen-overlap-model/2", "bias": 0.0, "threshold": 0.5, "weights": {}, "features": ["gap"]}
    split = [[0, 1.5, 1, 2, 0.0], [-1, 0.0, -1, -1, 2.0], [-1, 0.0, -1, -1, -2.0]]
    model = OverlapModel.from_dict({**tree, "trees": [split]})
    assert model.probability({"gap": 1.0}) > 0.8 > 0.2 > model.probability({"gap": 2.0})
    assert model.probability({}) > 0.8  # an absent feature reads 0
    with pytest.raises(ValueError, match="bad tree node"):
        OverlapModel.from_dict({**tree, "trees": [[[0, 1.5, 7, 2, 0.0]]]})
    with pytest.raises(ValueError, match="bad tree node"):  # a right child outside the tree
        OverlapModel.from_dict({**tree, "trees": [[split[0][:3] + [7, 0.0], *split[1:]]]})


def test_pair_counts_and_the_balanced_objective() -> None:
    gold = [(0.0, 10.0), (1.0, 2.0), (3.0, 5.0), (6.0, 7.0)]  # overlapping pairs: (0,1) (0,2) (0,3)
    counts = pair_counts([([3, 0, 0, 0], gold)])
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (3, 0, 0, 3)
    assert counts.recall == counts.balanced == counts.relation == 1.0
    none = pair_counts([([0, 0, 0, 0], gold)])
    assert none.recall == 0.0 and none.relation == 0.5 and none.balanced == 0.5
    # many "before" pairs and one overlap: plain accuracy never spans, balanced accuracy does
    p = [[0.0, 0.3] + [0.0] * 8] + [[0.0] * 10 for _ in range(9)]
    times = [(0.0, 1.5), (1.0, 2.0)] + [(float(k), k + 0.5) for k in range(2, 10)]
    model = OverlapModel({})
    grid = [0.2, 0.5]
    assert model.calibrate([(p, times)], grid, objective="relation") == 0.2  # ties keep the first: both exact
    p[0][2] = p[0][3] = 0.3  # spanning sentence 1 now also spans 2 and 3 (contiguity): two wrong pairs
    assert model.calibrate([(p, times)], grid, objective="relation") == 0.5
    assert model.calibrate([(p, times)], grid, objective="balanced") == 0.2
    with pytest.raises(ValueError, match="objective"):
        model.calibrate([(p, times)], grid, objective="f1")


def test_the_shipped_model_is_the_boosted_one() -> None:
    model = OverlapModel.default()
    assert model.trees and model.meta["kind"] == "boosted"
    assert "cross-validated" in model.meta["threshold"]


def test_instructions_never_overlap() -> None:
    from dysen.nlp import load_nlp

    nlp = load_nlp()
    doc = nlp("Chop the onions. Add them to the pan. A man is standing in a gym. He grabs a rope.")
    model = OverlapModel({}, bias=5.0)  # says "overlap" to everything it is asked
    p = model.pair_probabilities(list(doc.sents))
    assert p[0][1] == p[1][2] == 0.0  # an instruction on either side
    assert p[2][3] > 0.99
