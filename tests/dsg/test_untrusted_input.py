"""Regression tests of issue 15: every bad input gets a typed error, and resources are bounded up front."""

import json

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dsg
import dsg.limits
from dsg import (
    DSGError,
    DSGLimitError,
    DSGValidationError,
    DynamicSceneGraph,
    Entity,
    Event,
    EventSchedule,
    Relation,
    SceneGraph,
    SchemaError,
    align,
    dsg_from_dict,
    from_json,
    load_json,
    normalize_label,
    read_jsonl,
    schedule_to_dsg,
    to_json,
    write_jsonl,
)
from dsg.action_genome import from_action_genome, load_action_genome_json
from dsg.io_networkx import from_networkx, to_networkx, to_time_expanded


def _doc(**fields):
    return {"schema": "dsg/1", "frames": [], **fields}


# -- JSON text ------------------------------------------------------------------------------------------
def test_deep_nesting_is_a_limit_error_not_recursion():
    with pytest.raises(DSGLimitError, match=r"json.depth = 100000 exceeds the limit of 32") as info:
        from_json("[" * 100_000)
    assert (info.value.field, info.value.value, info.value.limit) == ("json.depth", 100_000, 32)


def test_brackets_inside_strings_do_not_count_as_nesting():
    d = DynamicSceneGraph(text='[[[[{{{{"\\' * 20)
    assert from_json(to_json(d)) == d


def test_huge_integer_literal_is_a_schema_error():
    with pytest.raises(SchemaError, match="not valid JSON"):
        from_json("1" * 5000)
    with pytest.raises(SchemaError):
        from_json(json.dumps(_doc(frames=[{"repeat": 0}])).replace("0}", "1" * 5000 + "}"))


def test_from_json_takes_utf8_bytes_and_refuses_other_types():
    d = DynamicSceneGraph((SceneGraph(relations=(("é", "hold", "b"),)),), text="ünïcode")
    assert from_json(to_json(d).encode()) == d
    with pytest.raises(SchemaError, match="not UTF-8"):
        from_json(b'{"schema": "dsg/1", "text": "\xff"}')
    with pytest.raises(SchemaError, match="str or bytes"):
        from_json(None)


# -- files --------------------------------------------------------------------------------------------------
def test_load_json_on_non_utf8_bytes(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"schema": "dsg/1", "frames": [], "text": "caf\xe9"}')
    with pytest.raises(SchemaError, match=r"bad.json: not UTF-8"):
        load_json(path)


def test_read_jsonl_on_non_utf8_line_names_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    write_jsonl([DynamicSceneGraph()], path)
    with path.open("ab") as fh:
        fh.write(b"\xff\xfe\n")
    with pytest.raises(SchemaError, match=r"c.jsonl:2: not UTF-8"):
        list(read_jsonl(path))


def test_read_jsonl_skips_a_line_cut_inside_a_multibyte_character(tmp_path):
    dsgs = [DynamicSceneGraph(text=f"caf\u00e9 {k}") for k in range(3)]
    path = tmp_path / "cut.jsonl"
    write_jsonl(dsgs, path)
    lines = path.read_bytes().split(b"\n")
    cut = lines[1][: lines[1].index("é".encode()) + 1]  # the first byte of "é" only
    path.write_bytes(b"\n".join([lines[0], cut, lines[2], lines[0][: lines[0].index("é".encode()) + 1]]))
    assert list(read_jsonl(path, skip_invalid=True)) == [dsgs[0], dsgs[2]]
    with pytest.raises(SchemaError, match=r"cut.jsonl:2"):
        list(read_jsonl(path))


def test_load_action_genome_json_on_non_utf8_bytes(tmp_path):
    path = tmp_path / "ag.json"
    path.write_bytes(b'{"v.mp4/000001.png": [{"class": "cup\xff"}]}')
    with pytest.raises(SchemaError, match="not UTF-8"):
        load_action_genome_json(path)


# -- JSON types -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "doc",
    [
        _doc(provenance=[1]),
        _doc(provenance={"meta": [1, 2]}),
        _doc(provenance={"steps": "abc"}),
        _doc(provenance={"producer": 3}),
        _doc(frames=[{"objects": 5}]),
        _doc(frames=[{"objects": "abc"}]),
        _doc(frames=[{"relations": "ab"}]),
        _doc(frames=[{"attributes": {"a": "b"}}]),
        _doc(frames=[{"repeat": True}]),
        _doc(frames=[{"repeat": 2.0}]),
        _doc(entities=[{"id": "x", "attributes": "red"}]),
        _doc(entities=[{"id": "x", "label": 5}]),
        _doc(entities={"id": "x"}),
        _doc(schedule={"events": [["a", "b", None, 0, 1]], "entities": "x"}),
        _doc(schedule={"events": [{"agent": "a"}]}),
        _doc(text=5),
        _doc(time_unit=[]),
    ],
)
def test_wrong_json_types_are_typed_errors(doc):
    with pytest.raises(DSGError):
        dsg_from_dict(doc)


def test_string_attributes_are_refused_not_split_into_letters():
    with pytest.raises(SchemaError, match=r"entities\[0\].attributes must be a list, got str: 'red'"):
        dsg_from_dict(_doc(entities=[{"id": "x", "attributes": "red"}]))


def test_action_genome_string_relationship_is_refused():
    ann = {"v.mp4/000001.png": [{"class": "cup", "contacting_relationship": "holding"}]}
    with pytest.raises(SchemaError, match="contacting_relationship must be a list"):
        from_action_genome(ann)
    with pytest.raises(SchemaError, match="class must be a string"):
        from_action_genome({"v.mp4/000001.png": [{"class": ["cup"]}]})
    with pytest.raises(SchemaError):
        from_action_genome({1: []})
    with pytest.raises(SchemaError):
        from_action_genome([])


# -- constructors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda: SceneGraph(None),
        lambda: SceneGraph(relations=5),
        lambda: SceneGraph(attributes="ab"),
        lambda: EventSchedule(object()),
        lambda: EventSchedule(entities=5),
        lambda: EventSchedule.from_tuples([("a", "b", None, (1,))]),
        lambda: EventSchedule.from_tuples([("a", "b")]),
        lambda: EventSchedule.from_tuples([5]),
        lambda: EventSchedule.from_tuples(None),
        lambda: Entity("x", attributes=5),
        lambda: Entity("x", attributes="red"),
        lambda: Entity("x", label=5),
        lambda: dsg.Provenance(steps=5),
        lambda: dsg.Provenance(meta=5),
        lambda: dsg.Provenance(meta=[("a",)]),
        lambda: DynamicSceneGraph(5),
        lambda: DynamicSceneGraph.from_segments([(None, SceneGraph())]),
        lambda: DynamicSceneGraph.from_segments(7),
    ],
)
def test_bad_constructor_arguments_are_validation_errors(build):
    with pytest.raises(DSGValidationError):
        build()


def test_from_tuples_still_takes_both_row_shapes():
    s = EventSchedule.from_tuples([("a", "run", None, (0, 2)), ["b", "sit", "a", 1, 3]])
    assert [(e.start, e.end) for e in s] == [(0, 2), (1, 3)]


def test_provenance_meta_takes_a_mapping_or_pairs():
    assert dsg.Provenance(meta={"b": "1", "a": "2"}).meta == dsg.Provenance(meta=[("a", "2"), ("b", "1")]).meta


# -- networkx ------------------------------------------------------------------------------------------------
def test_unary_and_reflexive_relations_never_share_an_edge_key():
    sg = SceneGraph(relations=(Relation("x", "p"), Relation("x", "p|unary", "x"), Relation("x", "p", "x")))
    d = DynamicSceneGraph((sg,))
    graphs = to_networkx(d)
    assert graphs[0].number_of_edges() == 3
    assert from_networkx(graphs) == d
    assert to_time_expanded(d).number_of_edges() == 3


def test_from_networkx_refuses_string_frame_attributes_and_bad_meta():
    g = nx.MultiDiGraph()
    g.add_node("x", frame_attributes="red")
    with pytest.raises(DSGValidationError, match="frame_attributes"):
        from_networkx([g])
    h = nx.MultiDiGraph(dsg=5)
    with pytest.raises(SchemaError, match="graph\\['dsg'\\]"):
        from_networkx([h])
    with pytest.raises(DSGValidationError):
        from_networkx(None)


# -- labels -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("a a b", "b"), ("the (cat)", "cat"), ("The  Woman ", "woman"), ("the", "the"), ("a the", "the")],
)
def test_entity_normalisation_reaches_a_fixed_point(text, expected):
    assert normalize_label(text, entity=True) == expected
    assert normalize_label(expected, entity=True) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_normalize_label_is_idempotent(text, entity):
    once = normalize_label(text, entity=entity)
    assert normalize_label(once, entity=entity) == once


def test_labels_survive_json_round_trips():
    d = DynamicSceneGraph(entities=(Entity("x", "a a b"),))
    assert d.entities[0].label == "b"
    assert from_json(to_json(d)) == d


# -- resource limits -------------------------------------------------------------------------------------------
def test_large_repeat_is_refused_before_allocating():
    doc = json.dumps(_doc(frames=[{"objects": ["a"], "repeat": 10**9}]))
    with pytest.raises(DSGLimitError, match=r"frames\[0\].repeat = 1000000000 exceeds the limit of 100000"):
        from_json(doc)


def test_many_moderate_repeats_are_refused_by_their_total():
    doc = json.dumps(_doc(frames=[{"repeat": 60_000}, {"objects": ["a"], "repeat": 60_000}]))
    with pytest.raises(DSGLimitError, match="num_frames = 120000"):
        from_json(doc)


def test_event_times_are_bounded():
    with pytest.raises(DSGLimitError, match=r"event.end = 1000000000000 exceeds the limit of 100000"):
        Event("a", "run", None, 0, 10**12)
    with pytest.raises(DSGLimitError, match="event.end"):
        Event("a", "run", None, 0, 1e300)
    s = EventSchedule((Event("a", "run", None, 0, dsg.limits.MAX_FRAMES),))
    assert schedule_to_dsg(s).num_frames == dsg.limits.MAX_FRAMES


def test_align_and_frame_map_are_bounded():
    g = DynamicSceneGraph((SceneGraph(),))
    with pytest.raises(DSGLimitError, match=r"num_frames = 2147483648 exceeds the limit of 100000"):
        align(g, 2**31)
    with pytest.raises(DSGLimitError, match="num_frames"):
        dsg.frame_map(3, 2**31)
    with pytest.raises(DSGLimitError, match="num_frames"):
        dsg.align_schedule(EventSchedule((Event("a", "run"),)), 2**31)
    with pytest.raises(DSGValidationError, match="num_frames"):
        align(g, 2.5)


def test_dsg_and_segments_are_bounded():
    with pytest.raises(DSGLimitError, match="num_frames = 100001"):
        DynamicSceneGraph.from_segments([(10**5, SceneGraph()), (1, SceneGraph())])
    with pytest.raises(DSGLimitError, match="num_frames = 100001"):
        DynamicSceneGraph((SceneGraph(),) * 100_001)


def test_limits_can_be_raised_or_lowered(monkeypatch):
    monkeypatch.setattr(dsg.limits, "MAX_FRAMES", 4)
    with pytest.raises(DSGLimitError, match="limit of 4"):
        align(DynamicSceneGraph(), 5)
    assert align(DynamicSceneGraph(), 4).num_frames == 4


def test_json_size_is_bounded_for_files_and_lines(tmp_path, monkeypatch):
    good, big = DynamicSceneGraph(text="x"), DynamicSceneGraph(text="y" * 5000)
    write_jsonl([good, big, good], tmp_path / "c.jsonl")
    from dsg import save_json

    save_json(big, tmp_path / "big.json")
    monkeypatch.setattr(dsg.limits, "MAX_JSON_BYTES", 1000)
    with pytest.raises(DSGLimitError, match=r"big.json: json.size = 1001 exceeds the limit of 1000") as info:
        load_json(tmp_path / "big.json")
    assert info.value.where.endswith("big.json")
    with pytest.raises(DSGLimitError, match=r"c.jsonl:2: json.size"):
        list(read_jsonl(tmp_path / "c.jsonl"))
    assert list(read_jsonl(tmp_path / "c.jsonl", skip_invalid=True)) == [good, good]
    with pytest.raises(DSGLimitError, match="json.size"):
        from_json(to_json(big))


def test_vocabulary_reader_gives_typed_errors(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"entities": ["<unk>"], "attributes": ["<unk>", 5], "predicates": ["<unk>"]}')
    with pytest.raises(SchemaError, match="'attributes' must be a list of strings"):
        dsg.DSGVocab.load(path)
    with pytest.raises(SchemaError):
        dsg.DSGVocab.from_dict([])


def test_lone_surrogates_round_trip_through_files(tmp_path):
    from dsg import save_json

    d = DynamicSceneGraph(text="caf\u00e9 \ud800")
    assert from_json(to_json(d).encode()) == d
    assert load_json(save_json(d, tmp_path / "s.json")) == d
    write_jsonl([d, DynamicSceneGraph(text="é")], tmp_path / "s.jsonl")
    assert list(read_jsonl(tmp_path / "s.jsonl")) == [d, DynamicSceneGraph(text="é")]
    assert "é" in (tmp_path / "s.jsonl").read_text(encoding="utf-8")  # readable where it can be


def test_typed_errors_pickle():
    import pickle

    for exc in (DSGLimitError("num_frames", 7, 4, "f.jsonl:2"), DSGValidationError("event.end", 0, "bad", 3)):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
