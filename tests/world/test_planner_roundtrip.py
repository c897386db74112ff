"""Easy-level captions parse back to the same events with the offline rule-based planner (dysen).

The planner lives in :mod:`dysen` (another part of this project); the test is skipped until it exists.
Planner entities are mapped to world entities by their label (the shape noun on both sides) and their
colour attribute; then the events must be the same triplets in the same order. The planner's time grid
(units of v) differs from the world's frames, so only the order of the events is compared. Matching by
entity ids avoids the ambiguity of label-level matching (:func:`dsg.match_events`) when two events
share a label-level triplet ("the cyan square rotates, ..., then the cyan square rotates").
"""

import pytest

from dsg import EventSchedule
from vdm.world import COLOURS, Difficulty, World, WorldConfig

try:
    from dysen import RuleBasedPlanner
except ImportError:  # pragma: no cover - depends on the state of the dysen package
    RuleBasedPlanner = None


def world_ids(pred: EventSchedule) -> list[tuple[str, str, str | None]]:
    """The planned events as world triplets, in planned order."""

    def world_id(ident: str | None) -> str | None:
        if ident is None:
            return None
        ent = pred.entity(ident)
        colours = [a for a in ent.attributes if a in COLOURS]
        return f"{colours[0] if len(colours) == 1 else '?'} {ent.label}"

    return [(world_id(e.agent), e.predicate, world_id(e.target)) for e in pred.events]


@pytest.mark.skipif(RuleBasedPlanner is None, reason="dysen.RuleBasedPlanner is not available yet (written in dysen/)")
@pytest.mark.parametrize("level", [1, 2, 3])
def test_easy_captions_round_trip_through_the_rule_based_planner(level):
    planner = RuleBasedPlanner()
    world = World(WorldConfig(height=32, width=32), Difficulty.level(level))
    for seed in range(12):
        sample = world.sample(seed)
        pred = planner.schedule(sample.caption.text)
        gold = [(e.agent, e.predicate, e.target) for e in sample.schedule.events]
        assert world_ids(pred) == gold, f"{sample.caption.text!r} was planned as {pred.events}"
        starts = [e.start for e in pred.events]
        assert starts == sorted(set(starts)), f"{sample.caption.text!r}: events are sequential, got {pred.events}"
