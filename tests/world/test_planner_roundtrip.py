"""Easy-level captions parse back to the same events with the offline rule-based planner (dysen).

The planner lives in :mod:`dysen` (another part of this project); the test is skipped until it exists.
With ``colour_in_label=True`` the planner names entities as the world does (``"red circle"``), so the
planned events must be the world's event triplets, entity for entity, in the same order. The planner's
time grid (units of v) differs from the world's frames, so only the order of the events is compared.
"""

import pytest

from vdm.world import Difficulty, World, WorldConfig

try:
    from dysen import RuleBasedPlanner
except ImportError:  # pragma: no cover - depends on the state of the dysen package
    RuleBasedPlanner = None


@pytest.mark.skipif(RuleBasedPlanner is None, reason="dysen.RuleBasedPlanner is not available yet (written in dysen/)")
@pytest.mark.parametrize("level", [1, 2, 3])
def test_easy_captions_round_trip_through_the_rule_based_planner(level):
    planner = RuleBasedPlanner(colour_in_label=True)
    world = World(WorldConfig(height=32, width=32), Difficulty.level(level))
    for seed in range(12):
        sample = world.sample(seed)
        pred = planner.schedule(sample.caption.text)
        planned = [
            (pred.entity(e.agent).label, e.predicate, e.target and pred.entity(e.target).label) for e in pred.events
        ]
        gold = [(e.agent, e.predicate, e.target) for e in sample.schedule.events]
        assert planned == gold, f"{sample.caption.text!r} was planned as {pred.events}"
        starts = [e.start for e in pred.events]
        assert starts == sorted(set(starts)), f"{sample.caption.text!r}: events are sequential, got {pred.events}"
