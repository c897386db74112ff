import pytest

from dsg import (
    DSGError,
    DSGValidationError,
    DynamicSceneGraph,
    Entity,
    Event,
    EventSchedule,
    Provenance,
    Relation,
    SceneGraph,
    label_key,
    normalize_label,
)


def test_label_normalisation_makes_surface_variants_equal():
    assert normalize_label("  Woman ") == "woman"
    assert normalize_label("The  Woman", entity=True) == "woman"
    assert Entity("w", "Woman ") == Entity("w", "woman")
    assert Relation("a", " Sits  ON ") == Relation("a", "sits on")
    assert normalize_label("the", entity=True) == "the"  # never empties a label


def test_label_key_lemmatises_with_spacy():
    assert label_key("Women") == label_key("woman")
    assert label_key("sitting on") == label_key("sits on")


def test_scene_graph_set_semantics_and_canonical_order():
    a = SceneGraph(relations=(Relation("b", "near", "a"), Relation("a", "hold", "c"), Relation("a", "hold", "c")))
    b = SceneGraph(relations=(("a", "hold", "c"), ("b", "near", "a")))
    assert a == b and hash(a) == hash(b)
    assert a.objects == ("a", "b", "c")
    assert len(a.relations) == 2


def test_unary_and_reflexive_relations_differ():
    assert Relation("x", "look at", "x") != Relation("x", "look at")
    assert Relation("x", "jump").is_unary


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"agent": "", "predicate": "run"}, "event.agent"),
        ({"agent": "a", "predicate": "  "}, "event.predicate"),
        ({"agent": "a", "predicate": "run", "start": 2, "end": 2}, "event.end"),
        ({"agent": "a", "predicate": "run", "start": -1, "end": 2}, "event.start"),
        ({"agent": "a", "predicate": "run", "start": 0.5, "end": 2}, "event.start"),
        ({"agent": "a", "predicate": "run", "start": True, "end": 2}, "event.start"),
        ({"agent": 3, "predicate": "run"}, "event.agent"),
    ],
)
def test_event_validation_names_the_field(kwargs, field):
    with pytest.raises(DSGValidationError) as info:
        Event(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, DSGError)
    assert field in str(info.value)


def test_scene_graph_errors():
    with pytest.raises(DSGValidationError, match="scene_graph.attributes"):
        SceneGraph(attributes=(("a",),))
    with pytest.raises(DSGValidationError, match="scene_graph.relations"):
        SceneGraph(relations=(42,))
    with pytest.raises(DSGValidationError, match="relation.predicate"):
        Relation("a", "")
    with pytest.raises(DSGValidationError, match="entity.attributes"):
        Entity("a", "a", "red")
    with pytest.raises(DSGValidationError, match="scene_graph.objects"):
        SceneGraph(objects="abc")


def test_dsg_errors_name_frame_and_value():
    with pytest.raises(DSGValidationError) as info:
        DynamicSceneGraph((SceneGraph(), "not a graph"))
    assert info.value.frame == 1 and info.value.value == "not a graph"
    with pytest.raises(DSGValidationError, match="duplicate entity id"):
        DynamicSceneGraph((), (Entity("a", "cat"), Entity("a", "dog")))
    with pytest.raises(DSGValidationError, match="provenance"):
        DynamicSceneGraph((), provenance="me")
    with pytest.raises(DSGValidationError, match=r"provenance\.steps"):
        Provenance("x", steps="abc")


def test_schedule_orders_physically_and_builds_entity_table():
    s = EventSchedule.from_tuples([("dog", "jump", None, (2, 3)), ("man", "sit on", "chair", (0, 2))])
    assert [e.predicate for e in s] == ["sit on", "jump"]
    assert {e.id for e in s.entities} == {"dog", "man", "chair"}
    assert s.horizon == 3 and s.boundaries == (0, 2, 3)
    assert s.concurrency() == 1
    with pytest.raises(DSGValidationError, match="schedule.row"):
        EventSchedule.from_tuples([("a", "b")])
    with pytest.raises(DSGValidationError, match="schedule.events"):
        EventSchedule(("x",))


def test_entity_label_defaults_to_id_without_suffix():
    assert Entity("circle#2").label == "circle"
    d = DynamicSceneGraph((SceneGraph(relations=(("circle#1", "near", "circle#2"),)),))
    assert d.triplets(0) == {("circle", "near", "circle")}


def test_dsg_is_hashable_and_cache_does_not_affect_equality():
    s = EventSchedule.from_tuples([("a", "b", None, (0, 1))])
    d1 = DynamicSceneGraph((SceneGraph(relations=(("a", "b"),)),), schedule=s)
    d2 = DynamicSceneGraph((SceneGraph(relations=(("a", "b"),)),), schedule=s)
    _ = d1.entity_table
    assert d1 == d2 and hash(d1) == hash(d2)
