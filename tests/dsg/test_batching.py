import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_geometric.data import Batch

from dsg import (
    DSGValidationError,
    DSGVocab,
    DynamicSceneGraph,
    Entity,
    EventSchedule,
    SceneGraph,
    VocabularyError,
    collate,
    collate_temporal,
    decode,
    encode,
    from_temporal_data,
    schedule_to_dsg,
    to_temporal_data,
)
from dsg.testing import dynamic_scene_graphs


@given(st.lists(dynamic_scene_graphs(max_frames=6), min_size=1, max_size=4))
def test_batch_then_unbatch_is_identity(dsgs):
    vocab = DSGVocab.build(dsgs)
    batch = collate(dsgs, vocab)
    assert batch.to_dsgs(vocab) == dsgs
    assert batch.num_graphs == len(dsgs)
    assert batch.num_instances == sum(len(sg.objects) for d in dsgs for sg in d.frames)


@given(dynamic_scene_graphs(max_frames=6))
def test_encode_decode_identity(d):
    vocab = DSGVocab.build([d])
    dec = decode(encode(d, vocab), vocab, text=d.text, provenance=d.provenance)
    assert dec == d


@given(st.lists(dynamic_scene_graphs(max_frames=6), min_size=1, max_size=4))
def test_frame_instance_invariants(dsgs):
    vocab = DSGVocab.build(dsgs)
    b = collate(dsgs, vocab)
    n = b.num_instances
    # previous-frame pointers link the same entity one frame earlier, within the same DSG
    has_prev = b.inst_prev >= 0
    p = b.inst_prev[has_prev]
    assert torch.equal(b.inst_entity[p], b.inst_entity[has_prev])
    assert torch.equal(b.inst_frame[p] + 1, b.inst_frame[has_prev])
    assert torch.equal(b.inst_graph[p], b.inst_graph[has_prev])
    # edges stay inside one frame of one DSG
    if b.edge_index.numel():
        s, t = b.edge_index
        assert torch.equal(b.frame_index[s], b.frame_index[t])
        assert int(b.edge_index.max()) < n
    # labels agree with entity table
    assert torch.equal(b.inst_label, b.entity_label[b.inst_entity])
    # dense layout is a bijection onto the mask
    h = torch.arange(n, dtype=torch.float32)[:, None]
    dense, mask = b.to_dense(h)
    assert int(mask.sum()) == n
    assert torch.equal(dense[mask][:, 0].sort().values, h[:, 0])
    assert b.frame_mask().sum() == sum(d.num_frames for d in dsgs)


def test_static_attributes_spread_over_instances():
    s = EventSchedule.from_tuples(
        [("a", "run", None, (0, 3))], entities=(Entity("a", "dog", ("brown", "small")), Entity("z", "cat", ("big",)))
    )
    d = schedule_to_dsg(s)
    vocab = DSGVocab.build([d])
    b = collate([d], vocab)
    assert int(b.attr_static.sum()) == 6  # 2 attributes x 3 frames; "z" is never present
    assert b.to_dsgs(vocab) == [d]


def test_collate_errors_and_unknown_labels():
    d = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (0, 1))]))
    with pytest.raises(DSGValidationError, match="empty list"):
        collate([])
    with pytest.raises(DSGValidationError, match="vocabulary"):
        collate([d])
    with pytest.raises(DSGValidationError, match="dsgs"):
        collate(["x"], DSGVocab())
    vocab = DSGVocab.build([d])
    other = schedule_to_dsg(EventSchedule.from_tuples([("b", "fly", None, (0, 1))]))
    enc = encode(other, vocab)
    assert enc.entity_label.tolist() == [0] and enc.edge_pred.tolist() == [0]  # <unk>
    vocab.predicates.strict = True
    with pytest.raises(VocabularyError, match="fly"):
        encode(schedule_to_dsg(EventSchedule.from_tuples([("a", "fly", None, (0, 1))])), vocab)


def test_vocab_save_load(tmp_path):
    d = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", "b", (0, 1))]))
    vocab = DSGVocab.build([d])
    vocab.save(tmp_path / "v.json")
    assert DSGVocab.load(tmp_path / "v.json") == vocab


@given(dynamic_scene_graphs(max_frames=6))
def test_temporal_data_round_trip(d):
    vocab = DSGVocab.build([d])
    td = to_temporal_data(d, vocab)
    assert td.num_nodes == len(d.entities)  # isolated entities counted
    back = from_temporal_data(td, vocab, [e.id for e in d.entities], text=d.text, provenance=d.provenance)
    assert back == d


def test_temporal_batching_offsets_use_true_entity_counts():
    # entity "zz" sorts last and has no relation: PyG's max-index rule would drop it
    ents = (Entity("a"), Entity("b"), Entity("zz"))
    d1 = DynamicSceneGraph((SceneGraph(objects=("zz",), relations=(("a", "near", "b"),)),), ents)
    d2 = DynamicSceneGraph((SceneGraph(),), (Entity("q"),))  # empty stream
    vocab = DSGVocab.build([d1, d2])
    t1, t2 = to_temporal_data(d1, vocab), to_temporal_data(d2, vocab)
    assert t1.num_nodes == 3 and t2.num_nodes == 1
    both = collate_temporal([t1, t2, t1])
    assert both.src.tolist() == [0, 4]
    assert both.num_nodes == 7
    pyg = Batch.from_data_list([t1, t2, t1])
    assert pyg.src.tolist() == [0, 4]
    assert pyg.batch.tolist() == [0, 0, 0, 1, 2, 2, 2]


def test_encoding_is_cached_for_frozen_vocab():
    d = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (0, 1))]))
    vocab = DSGVocab.build([d])
    assert encode(d, vocab) is encode(d, vocab)
    assert np.array_equal(encode(d, DSGVocab.build([d])).edge_pred, encode(d, vocab).edge_pred)


def test_temporal_data_event_slicing_keeps_tables():
    d = schedule_to_dsg(EventSchedule.from_tuples([("a", "run", None, (0, 2)), ("b", "hold", "c", (1, 3))]))
    td = to_temporal_data(d, DSGVocab.build([d]))
    part = td[:2]
    assert part.num_events == 2 and part.t.tolist() == [0, 1] and part.num_nodes == td.num_nodes
