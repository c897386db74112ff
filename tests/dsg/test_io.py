import json

import networkx as nx
import pytest
from hypothesis import given

import dsg
from dsg import (
    DynamicSceneGraph,
    Entity,
    EventSchedule,
    SceneGraph,
    SchemaError,
    from_json,
    read_jsonl,
    schedule_to_dsg,
    to_json,
    write_jsonl,
)
from dsg.io_json import schedule_from_dict, schedule_to_dict
from dsg.testing import dynamic_scene_graphs, event_schedules


@given(dynamic_scene_graphs())
def test_json_round_trip_is_identity(d):
    assert from_json(to_json(d)) == d


@given(event_schedules())
def test_schedule_json_round_trip(s):
    assert schedule_from_dict(json.loads(json.dumps(schedule_to_dict(s)))) == s


@given(event_schedules(min_events=1))
def test_dsg_with_schedule_round_trips(s):
    d = schedule_to_dsg(s, text="t")
    assert from_json(to_json(d)) == d


def test_repeated_frames_written_once():
    s = EventSchedule.from_tuples([("a", "run", None, (0, 10))])
    doc = json.loads(to_json(schedule_to_dsg(s)))
    assert doc["schema"] == "dsg/1" and len(doc["frames"]) == 1 and doc["frames"][0]["repeat"] == 10


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("[]", "JSON object"),
        ('{"schema": "dsg/0", "frames": []}', "unsupported DSG schema"),
        ('{"schema": "dsg/1", "frames": {}}', "'frames' must be a list"),
        ('{"schema": "dsg/1", "frames": [{"relations": [["a"]]}]}', r"frames\[0\].relations"),
        ('{"schema": "dsg/1", "frames": [{"relations": [], "repeat": 0}]}', "repeat"),
        ('{"schema": "dsg/1", "frames": [], "entities": [{"label": "x"}]}', r"entities\[0\]"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_json_raises_schema_error(doc, match):
    with pytest.raises(SchemaError, match=match):
        from_json(doc)


def test_jsonl_corpus_and_bad_line(tmp_path):
    s = EventSchedule.from_tuples([("a", "run", None, (0, 2))])
    ds = [schedule_to_dsg(s, text=f"c{i}") for i in range(3)]
    path = tmp_path / "c.jsonl"
    assert write_jsonl(ds, path) == 3
    with path.open("a") as fh:
        fh.write('{"schema": "dsg/1", "frames": [\n')  # truncated last line
    with pytest.raises(SchemaError, match=r"c.jsonl:4"):
        list(read_jsonl(path))
    assert list(read_jsonl(path, skip_invalid=True)) == ds


def test_save_and_load_json(tmp_path):
    d = schedule_to_dsg(EventSchedule.from_tuples([("a", "hold", "b", (0, 2))]))
    p = dsg.save_json(d, tmp_path / "x" / "d.json")
    assert dsg.load_json(p) == d
    (tmp_path / "bad.json").write_text('{"schema": "nope"}')
    with pytest.raises(SchemaError, match="bad.json"):
        dsg.load_json(tmp_path / "bad.json")


@given(dynamic_scene_graphs(min_frames=1))
def test_networkx_round_trip_is_identity(d):
    graphs = dsg.to_networkx(d)
    assert all(isinstance(g, nx.MultiDiGraph) for g in graphs)
    assert dsg.from_networkx(graphs) == d


def test_networkx_from_plain_graphs():
    g = nx.DiGraph()
    g.add_edge("man", "chair", predicate="sit on")
    d = dsg.from_networkx([g, g])
    assert d.num_frames == 2 and d.triplets(1) == {("man", "sit on", "chair")}


@given(dynamic_scene_graphs())
def test_time_expanded_graph(d):
    g = dsg.to_time_expanded(d)
    assert g.number_of_nodes() == sum(len(sg.objects) for sg in d.frames)
    nexts = [(u, v) for u, v, k in g.edges(keys=True) if k == "next"]
    for (e0, m0), (e1, m1) in nexts:
        assert e0 == e1 and m1 == m0 + 1
    n_rel = sum(len(sg.relations) for sg in d.frames)
    assert g.number_of_edges() == n_rel + len(nexts)


def test_action_genome_import(tmp_path):
    ann = {
        "V1.mp4/000010.png": [
            {
                "class": "cup/glass/bottle",
                "visible": True,
                "attention_relationship": ["looking_at"],
                "spatial_relationship": ["in_front_of"],
                "contacting_relationship": ["holding"],
            },
            {"class": "table", "visible": False, "spatial_relationship": ["beneath"]},
        ],
        "V1.mp4/000002.png": [{"class": "chair", "contacting_relationship": ["sitting_on"]}],
        "V2.mp4/000001.png": [],
    }
    out = dsg.from_action_genome(ann)
    assert set(out) == {"V1.mp4", "V2.mp4"}
    v1 = out["V1.mp4"]
    assert v1.triplets(0) == {("person", "sitting on", "chair")}
    assert ("person", "holding", "cup/glass/bottle") in v1.triplets(1)
    assert "table" not in v1.frames[1].objects
    (tmp_path / "ag.json").write_text(json.dumps(ann))
    assert dsg.load_action_genome_json(tmp_path / "ag.json") == out
    with pytest.raises(SchemaError, match="frame number"):
        dsg.from_action_genome({"V/abc.png": []})
    with pytest.raises(SchemaError, match="without 'class'"):
        dsg.from_action_genome({"V/1.png": [{"bbox": []}]})


def test_draw_timeline_writes_png_and_svg(tmp_path):
    s = EventSchedule.from_tuples(
        [("woman", "hold", "cup", (0, 2)), ("woman", "walk", None, (1, 3))],
        entities=(Entity("woman", attributes=("young",)),),
    )
    d = schedule_to_dsg(s, text="a young woman holds a cup while walking")
    for name in ("t.png", "t.svg"):
        dsg.draw_timeline(d, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    dsg.draw_timeline(DynamicSceneGraph(), tmp_path / "empty.png")
    dsg.draw_timeline(DynamicSceneGraph((SceneGraph(objects=("a",)),)), tmp_path / "one.png")
