"""Fuzz the typed-error contract of every public constructor and reader of :mod:`dsg` (issue 15).

Bad input (random JSON-like values, mutated valid documents, random bytes, wrong types, truncated files)
may only raise :class:`dsg.DSGError` subclasses; valid objects round-trip exactly through JSON, JSON Lines
and networkx. Example counts are kept small so that the file runs in well under a minute; set
``DSG_FUZZ_EXAMPLES`` (e.g. to 2000) for a deeper run.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsg
from dsg import DSGError, DynamicSceneGraph, Entity, Event, EventSchedule, Provenance, Relation, SceneGraph
from dsg.action_genome import from_action_genome, load_action_genome_json
from dsg.io_networkx import from_networkx, to_networkx
from dsg.testing import dynamic_scene_graphs, event_schedules

EXAMPLES = int(os.environ.get("DSG_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["a", "dsg/1", "v", "person", "a/1.png", ""]),
)
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12
)
# what a careless caller may pass to a constructor: JSON values plus tuples, sets, bytes and arbitrary objects
python_values = st.recursive(
    st.one_of(scalars, st.binary(max_size=4), st.just(object()), st.just(SceneGraph()), st.just(Entity("e"))),
    lambda c: st.lists(c, max_size=3) | st.lists(c, max_size=3).map(tuple) | st.frozensets(scalars, max_size=3),
    max_leaves=8,
)


def _raises_only_dsg_errors(fn, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(DSGError):
        fn(*args, **kwargs)


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """A valid DSG document with one value somewhere inside it replaced by a random JSON value."""
    doc = dsg.dsg_to_dict(draw(dynamic_scene_graphs(max_frames=4)))
    if draw(st.booleans()):
        doc["schedule"] = dsg.io_json.schedule_to_dict(draw(event_schedules(max_events=3)))
    parent: Any = doc
    for _ in range(draw(st.integers(0, 5))):
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if not isinstance(parent[key], dict | list) or draw(st.booleans()):
            parent[key] = draw(json_values)
            return doc
        parent = parent[key]
    return doc


# -- readers of JSON values and text ----------------------------------------------------------------
@FUZZ
@given(st.one_of(json_values, mutated_documents()))
def test_dsg_from_dict_and_from_json_raise_only_dsg_errors(value):
    _raises_only_dsg_errors(dsg.dsg_from_dict, value)
    _raises_only_dsg_errors(dsg.from_json, json.dumps(value))
    _raises_only_dsg_errors(dsg.io_json.schedule_from_dict, value)
    _raises_only_dsg_errors(dsg.DSGVocab.from_dict, value)
    _raises_only_dsg_errors(from_action_genome, value)


@FUZZ
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64), python_values))
def test_from_json_on_random_bytes_text_and_objects(data):
    _raises_only_dsg_errors(dsg.from_json, data)


@FUZZ
@given(st.dictionaries(st.sampled_from(["v.mp4/1.png", "v.mp4/2.png", "w/3", "bad"]), json_values, max_size=3))
def test_action_genome_annotations(annotations):
    _raises_only_dsg_errors(from_action_genome, annotations)


# -- file readers -------------------------------------------------------------------------------------
@st.composite
def file_contents(draw: st.DrawFn) -> bytes:
    """Random bytes, or valid JSON Lines / JSON text truncated at a random byte, possibly inside a character."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    dsgs = draw(st.lists(dynamic_scene_graphs(max_frames=3), min_size=1, max_size=3))
    text = "\n".join(json.dumps(dsg.dsg_to_dict(d), ensure_ascii=False) for d in dsgs).encode()
    return text[: draw(st.integers(0, len(text)))]


@FUZZ
@given(file_contents(), st.booleans())
def test_file_readers_raise_only_dsg_errors(content, skip_invalid):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.json"
        path.write_bytes(content)
        _raises_only_dsg_errors(dsg.load_json, path)
        _raises_only_dsg_errors(load_action_genome_json, path)
        _raises_only_dsg_errors(dsg.DSGVocab.load, path)
        _raises_only_dsg_errors(lambda: list(dsg.read_jsonl(path, skip_invalid=skip_invalid)))


@FUZZ
@given(st.lists(dynamic_scene_graphs(max_frames=3), min_size=1, max_size=4), st.data())
def test_read_jsonl_skip_invalid_keeps_every_intact_line(dsgs, data):
    lines = [json.dumps(dsg.dsg_to_dict(d), ensure_ascii=False).encode() for d in dsgs]
    cut = data.draw(st.integers(0, len(lines) - 1))
    lines[cut] = lines[cut][: data.draw(st.integers(1, len(lines[cut]) - 1))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        path.write_bytes(b"\n".join(lines))
        assert list(dsg.read_jsonl(path, skip_invalid=True)) == [d for i, d in enumerate(dsgs) if i != cut]


# -- constructors -------------------------------------------------------------------------------------------
@FUZZ
@given(python_values, python_values, python_values, python_values, python_values)
def test_constructors_raise_only_dsg_errors(a, b, c, d, e):
    for build in (Entity, Relation, SceneGraph, Provenance, EventSchedule, DynamicSceneGraph):
        _raises_only_dsg_errors(build, a, b, c)
    _raises_only_dsg_errors(Event, a, b, c, d, e)
    _raises_only_dsg_errors(DynamicSceneGraph, a, b, c, d, e)
    _raises_only_dsg_errors(DynamicSceneGraph.from_segments, a)
    _raises_only_dsg_errors(EventSchedule.from_tuples, a)
    _raises_only_dsg_errors(EventSchedule.from_tuples, [a], b, c)


@FUZZ
@given(st.one_of(st.integers(-5, 2**40), python_values), st.one_of(st.integers(-5, 2**40), python_values))
def test_conversions_raise_only_dsg_errors(n, m):
    d = dsg.schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (0, 3))]))
    _raises_only_dsg_errors(dsg.align, d, n)
    _raises_only_dsg_errors(dsg.frame_map, n, m)
    _raises_only_dsg_errors(dsg.align_schedule, d.schedule, n, m)
    _raises_only_dsg_errors(dsg.schedule_to_dsg, n)


@st.composite
def plain_graphs(draw: st.DrawFn) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph() if draw(st.booleans()) else nx.DiGraph()
    nodes = draw(st.lists(st.one_of(st.text(max_size=3), st.integers(0, 3)), max_size=4))
    node_keys = st.sampled_from(["label", "frame_attributes", "attributes", "static_attributes"])
    for node in nodes:
        g.add_node(node, **draw(st.dictionaries(node_keys, json_values)))
    if nodes:
        for _ in range(draw(st.integers(0, 3))):
            u, v = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
            g.add_edge(u, v, **draw(st.dictionaries(st.sampled_from(["predicate", "unary"]), json_values)))
    if draw(st.booleans()):
        g.graph["dsg"] = draw(json_values)
    return g


@FUZZ
@given(st.lists(plain_graphs(), max_size=3))
def test_from_networkx_raises_only_dsg_errors(graphs):
    _raises_only_dsg_errors(from_networkx, graphs)


# -- round trips of valid objects ---------------------------------------------------------------------
@FUZZ
@given(st.one_of(dynamic_scene_graphs(), event_schedules(min_events=1).map(dsg.schedule_to_dsg)))
def test_valid_dsgs_round_trip_exactly(d):
    assert dsg.from_json(dsg.to_json(d)) == d
    assert dsg.from_json(dsg.to_json(d, indent=None).encode()) == d
    if d.num_frames:
        assert from_networkx(to_networkx(d)) == d


@settings(max_examples=20, deadline=None)
@given(st.lists(dynamic_scene_graphs(max_frames=4), max_size=4))
def test_valid_dsgs_round_trip_through_jsonl(dsgs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.jsonl"
        assert dsg.write_jsonl(dsgs, path) == len(dsgs)
        assert list(dsg.read_jsonl(path)) == dsgs


@pytest.mark.parametrize("entity", [False, True])
@FUZZ
@given(st.text(max_size=12))
def test_labels_are_fixed_points(entity, text):
    once = dsg.normalize_label(text, entity=entity)
    assert dsg.normalize_label(once, entity=entity) == once


any_text = st.text(st.characters(categories=["Cs", "Lu", "Ll", "Zs", "Po"]), max_size=8)  # lone surrogates too


@FUZZ
@given(dynamic_scene_graphs(max_frames=3), any_text)
def test_any_text_round_trips_through_files(d, text):
    d = d.replace(text=text, provenance=Provenance("test", (text,), (), ((text, text),)))
    with tempfile.TemporaryDirectory() as tmp:
        assert dsg.load_json(dsg.save_json(d, Path(tmp) / "d.json")) == d
        dsg.write_jsonl([d, d], Path(tmp) / "c.jsonl")
        assert list(dsg.read_jsonl(Path(tmp) / "c.jsonl")) == [d, d]
