"""The offline planner's DSGs of world captions of levels 1-3 must not change (issue 18).

A model is trained on the DSGs that ``RuleBasedPlanner(colour_in_label=True)`` (and the default planner)
give for the procedural world's canonical captions; the fixture holds them as planned before the planner
learnt free wording. Any change of the rule-based reading must leave them byte-identical.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dsg import from_json, to_json
from dysen import RuleBasedPlanner

FIXTURE = Path(__file__).parent / "data" / "world_l123_plans.json.gz"


def _rows() -> list[dict]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        return json.load(fh)["rows"]


@pytest.mark.parametrize("colour_in_label", [True, False], ids=["colour_in_label", "default"])
def test_world_level_1_3_plans_unchanged(colour_in_label: bool) -> None:
    rows = _rows()
    assert len(rows) == 100
    planner = RuleBasedPlanner(colour_in_label=colour_in_label)
    key = "colour_in_label" if colour_in_label else "default"
    changed = []
    for row, dsg in zip(rows, planner.plan_many([r["caption"] for r in rows])):
        if to_json(dsg, indent=None) != row[key] or dsg != from_json(row[key]):
            changed.append(row["caption"])
    assert not changed, f"{len(changed)} plans changed, e.g. {changed[:3]}"


def test_world_level_1_3_plans_unchanged_one_by_one() -> None:
    """``plan`` (one text) and ``plan_many`` (batched parsing) agree on the recorded plans."""
    planner = RuleBasedPlanner(colour_in_label=True)
    for row in _rows()[::10]:
        assert to_json(planner.plan(row["caption"]), indent=None) == row["colour_in_label"]
