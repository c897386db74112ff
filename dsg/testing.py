"""Hypothesis strategies for property tests over DSGs (for this library's tests and for yours).

    from hypothesis import given
    from dsg.testing import dynamic_scene_graphs

    @given(dynamic_scene_graphs(max_frames=8))
    def test_my_encoder_is_permutation_invariant(dsg): ...

Every strategy has size knobs and produces only valid objects (including edge cases: empty frames,
unary actions, reflexive relations, entities that never appear, static and per-frame attributes).
Importing this module imports ``hypothesis``; ``import dsg`` does not.
"""

from __future__ import annotations

from hypothesis import strategies as st

from .dynamic import DynamicSceneGraph, Provenance
from .graph import Entity, Relation, SceneGraph
from .schedule import Event, EventSchedule

__all__ = ["dynamic_scene_graphs", "entities", "event_schedules", "labels", "relations", "scene_graphs"]

_WORDS = [
    "man",
    "woman",
    "dog",
    "cat",
    "ball",
    "chair",
    "table",
    "cup",
    "bottle of water",
    "bag",
    "red",
    "small",
    "sit on",
    "hold",
    "look at",
    "walk",
    "jump",
    "near",
    "left of",
    "put in",
]


def labels(*, max_words: int = 2) -> st.SearchStrategy[str]:
    """Short lower-case labels: common words or random ASCII words (normalisation-stable)."""
    word = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
    rand = (
        st.lists(word, min_size=1, max_size=max_words)
        .map(" ".join)
        .filter(lambda s: s.split()[0] not in ("a", "an", "the"))
    )
    return st.one_of(st.sampled_from(_WORDS), rand)


def entities(*, max_entities: int = 6, max_attributes: int = 2) -> st.SearchStrategy[tuple[Entity, ...]]:
    """Entity tables with unique ids ``"<label>#<k>"`` so that two entities may share a label."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Entity, ...]:
        n = draw(st.integers(1, max_entities))
        out = []
        for k in range(n):
            lab = draw(labels())
            attrs = draw(st.lists(labels(max_words=1), max_size=max_attributes))
            out.append(Entity(f"{lab}#{k}", lab, tuple(attrs)))
        return tuple(out)

    return build()


def relations(ids: list[str], *, unary: bool = True) -> st.SearchStrategy[Relation]:
    obj = st.one_of(st.none(), st.sampled_from(ids)) if unary else st.sampled_from(ids)
    return st.builds(Relation, st.sampled_from(ids), labels(), obj)


def scene_graphs(
    ids: list[str] | None = None, *, max_relations: int = 5, max_attributes: int = 3, allow_empty: bool = True
) -> st.SearchStrategy[SceneGraph]:
    """Scene graphs over ``ids`` (default: a small fixed set)."""
    ids = ids or ["a", "b", "c", "d"]

    @st.composite
    def build(draw: st.DrawFn) -> SceneGraph:
        objs = draw(st.lists(st.sampled_from(ids), min_size=0 if allow_empty else 1, max_size=len(ids), unique=True))
        pool = objs or ([] if allow_empty else ids[:1])
        if not pool:
            return SceneGraph()
        rels = draw(st.lists(relations(pool), max_size=max_relations))
        attrs = draw(st.lists(st.tuples(st.sampled_from(pool), labels(max_words=1)), max_size=max_attributes))
        return SceneGraph(tuple(objs), tuple(attrs), tuple(rels))

    return build()


def event_schedules(
    *, max_events: int = 6, max_time: int = 12, max_entities: int = 4, min_events: int = 0
) -> st.SearchStrategy[EventSchedule]:
    """Schedules with overlapping and concurrent events, unary and binary, on a ``max_time`` grid."""

    @st.composite
    def build(draw: st.DrawFn) -> EventSchedule:
        ents = draw(entities(max_entities=max_entities))
        ids = [e.id for e in ents]
        n = draw(st.integers(min_events, max_events))
        events = []
        for _ in range(n):
            start = draw(st.integers(0, max_time - 1))
            end = draw(st.integers(start + 1, max_time))
            target = draw(st.one_of(st.none(), st.sampled_from(ids)))
            events.append(Event(draw(st.sampled_from(ids)), draw(labels()), target, start, end))
        return EventSchedule(tuple(events), "v", ents)

    return build()


def dynamic_scene_graphs(
    *, max_frames: int = 8, max_entities: int = 5, max_relations: int = 4, min_frames: int = 0
) -> st.SearchStrategy[DynamicSceneGraph]:
    """DSGs: a shared entity table, frames drawn as runs of repeated scene graphs (segments)."""

    @st.composite
    def build(draw: st.DrawFn) -> DynamicSceneGraph:
        ents = draw(entities(max_entities=max_entities))
        ids = [e.id for e in ents]
        frames: list[SceneGraph] = []
        target = draw(st.integers(min_frames, max_frames))
        while len(frames) < target:
            sg = draw(scene_graphs(ids, max_relations=max_relations))
            frames.extend([sg] * draw(st.integers(1, max(1, target - len(frames)))))
        text = draw(st.one_of(st.none(), st.text(max_size=20)))
        prov = Provenance(
            draw(st.sampled_from(["test", "world"])), ("gen",), tuple(draw(st.lists(st.text(max_size=8), max_size=2)))
        )
        return DynamicSceneGraph(tuple(frames[:target]), ents, text, "v", None, prov)

    return build()
