"""Encoders (RGTrm and baselines): causality, permutation equivariance, batch invariance, gradients, edge cases, I/O."""

from __future__ import annotations

import json

import pytest
import torch
from _rgtrm_testing import rename_entities, rich_dsg, states_by_instance, tiny_encoder
from hypothesis import given, settings
from hypothesis import strategies as st

import dsg
import rgtrm
from dsg import DynamicSceneGraph, Entity, SceneGraph
from dsg.testing import dynamic_scene_graphs, scene_graphs
from rgtrm import CheckpointError, DSGEncoder, RGTrmConfigError, RGTrmEncoder, RGTrmInputError, load_encoder

ARCHS = sorted(rgtrm.ENCODERS)
RGTRM_MODES = [("rgtrm", {"recurrence": "paper"}), ("rgtrm", {"recurrence": "scan"})]
ALL = [*RGTRM_MODES, *[(a, {}) for a in ARCHS if a != "rgtrm"]]
ATOL = 1e-5


@st.composite
def dsg_and_future_change(draw: st.DrawFn) -> tuple[DynamicSceneGraph, DynamicSceneGraph, int]:
    """A DSG, a copy whose frames after ``m`` are redrawn, and ``m``."""
    d = draw(dynamic_scene_graphs(max_frames=6, max_entities=4, min_frames=2))
    m = draw(st.integers(0, d.num_frames - 2))
    ids = [e.id for e in d.entities]
    tail = draw(st.lists(scene_graphs(ids), min_size=1, max_size=4))
    return d, d.replace(frames=d.frames[: m + 1] + tuple(tail)), m


@pytest.mark.parametrize(("arch", "opts"), ALL)
@settings(max_examples=15)
@given(case=dsg_and_future_change())
def test_frame_causality(arch: str, opts: dict, case) -> None:
    """Changing frames > m never changes outputs at frames <= m."""
    d, d2, m = case
    vocab = dsg.DSGVocab.build([d, d2])
    enc = tiny_encoder(arch, vocab, **opts)
    b1, b2 = dsg.collate([d], vocab), dsg.collate([d2], vocab)
    o1, o2 = enc(b1), enc(b2)
    torch.testing.assert_close(o1.pooled[:, : m + 1], o2.pooled[:, : m + 1], atol=ATOL, rtol=0)
    s1, s2 = states_by_instance(b1, o1.nodes), states_by_instance(b2, o2.nodes)
    early = {k: v for k, v in s1.items() if k[0] <= m}
    assert early.keys() == {k for k in s2 if k[0] <= m}
    for k, v in early.items():
        torch.testing.assert_close(v, s2[k], atol=ATOL, rtol=0)


@pytest.mark.parametrize(("arch", "opts"), ALL)
@settings(max_examples=15)
@given(d=dynamic_scene_graphs(max_frames=5, max_entities=5), seed=st.randoms(use_true_random=False))
def test_permutation_equivariance(arch: str, opts: dict, d: DynamicSceneGraph, seed) -> None:
    """Renaming entities (which reorders the instances) permutes the node states and keeps the pooled ones."""
    ids = [e.id for e in d.entities]
    new = [f"x{i}" for i in range(len(ids))]
    seed.shuffle(new)
    mapping = dict(zip(ids, new))
    d2 = rename_entities(d, mapping)
    vocab = dsg.DSGVocab.build([d])
    enc = tiny_encoder(arch, vocab, **opts)
    b1, b2 = dsg.collate([d], vocab), dsg.collate([d2], vocab)
    o1, o2 = enc(b1), enc(b2)
    torch.testing.assert_close(o1.pooled, o2.pooled, atol=ATOL, rtol=0)
    s2 = states_by_instance(b2, o2.nodes)
    for (m, ident), v in states_by_instance(b1, o1.nodes).items():
        torch.testing.assert_close(v, s2[(m, mapping[ident])], atol=ATOL, rtol=0)


@pytest.mark.parametrize(("arch", "opts"), ALL)
@settings(max_examples=10)
@given(dsgs=st.lists(dynamic_scene_graphs(max_frames=5, max_entities=4), min_size=2, max_size=4))
def test_batch_invariance(arch: str, opts: dict, dsgs: list[DynamicSceneGraph]) -> None:
    """Encoding a batch equals encoding each DSG alone."""
    vocab = dsg.DSGVocab.build(dsgs)
    enc = tiny_encoder(arch, vocab, **opts)
    out = enc(dsg.collate(dsgs, vocab))
    for g, d in enumerate(dsgs):
        alone = enc(dsg.collate([d], vocab))
        f, n = alone.dense.shape[1], alone.dense.shape[2]
        assert torch.equal(out.frame_mask[g, :f], alone.frame_mask[0])
        assert not out.frame_mask[g, f:].any()
        assert torch.equal(out.mask[g, :f, :n], alone.mask[0])
        assert not out.mask[g, f:].any() and not out.mask[g, :, n:].any()
        torch.testing.assert_close(out.dense[g, :f, :n], alone.dense[0], atol=ATOL, rtol=0)
        torch.testing.assert_close(out.pooled[g, :f], alone.pooled[0], atol=ATOL, rtol=0)
        assert not out.pooled[g, f:].any()


@pytest.mark.parametrize(("arch", "opts"), ALL)
def test_gradients_reach_every_parameter(arch: str, opts: dict) -> None:
    d = rich_dsg()
    vocab = dsg.DSGVocab.build([d])
    enc = tiny_encoder(arch, vocab, time_encoding="learned", max_frames=8, **opts).train()
    out = enc(dsg.collate([d, d.replace(frames=d.frames[:1])], vocab))
    g = torch.Generator().manual_seed(0)
    loss = (out.dense * torch.randn(out.dense.shape, generator=g)).sum()
    loss = loss + (out.pooled * torch.randn(out.pooled.shape, generator=g)).sum()
    loss.backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(("arch", "opts"), ALL)
def test_output_shapes_masks_and_empty_frames(arch: str, opts: dict) -> None:
    d = rich_dsg()
    single = DynamicSceneGraph((d.frames[0],), d.entities)
    blank = DynamicSceneGraph((SceneGraph(), SceneGraph()), (Entity("ghost"),))
    vocab = dsg.DSGVocab.build([d])
    enc = tiny_encoder(arch, vocab, **opts)
    batch = dsg.collate([d, single, blank], vocab)
    out = enc(batch)
    assert out.nodes.shape == (batch.num_instances, 8)
    assert out.dense.shape == (3, 4, 3, 8) and out.mask.shape == (3, 4, 3)
    assert out.pooled.shape == (3, 4, 8)
    assert out.frame_mask.tolist() == [[True] * 4, [True, False, False, False], [True, True, False, False]]
    assert out.mask.sum().item() == batch.num_instances
    assert not out.dense[~out.mask].any()
    # empty frames (frame 2 of d, both of blank) get the learned empty-frame vector
    for g, m in ((0, 2), (2, 0), (2, 1)):
        torch.testing.assert_close(out.pooled[g, m], enc.empty_frame)
    # pooled = mean of the frame's node states
    torch.testing.assert_close(out.pooled[0, 0], out.dense[0, 0][out.mask[0, 0]].mean(0))
    # a batch without any instance at all
    only_blank = enc(dsg.collate([blank], vocab))
    assert only_blank.nodes.shape == (0, 8) and only_blank.pooled.shape == (1, 2, 8)
    assert torch.isfinite(out.dense).all() and torch.isfinite(out.pooled).all()


@pytest.mark.parametrize(("arch", "opts"), ALL)
def test_save_load_round_trip(arch: str, opts: dict, tmp_path) -> None:
    d = rich_dsg()
    vocab = dsg.DSGVocab.build([d])
    enc = tiny_encoder(arch, vocab, **opts)
    enc.save_pretrained(tmp_path, vocab=vocab)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["arch"] == arch and cfg["config"]["hidden"] == 8
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "vocab.json").is_file()
    loaded = load_encoder(tmp_path).eval()
    assert type(loaded) is type(enc) and loaded.config == enc.config
    batch = dsg.collate([d], dsg.DSGVocab.load(tmp_path / "vocab.json"))
    torch.testing.assert_close(loaded(batch).dense, enc(batch).dense, atol=0, rtol=0)


def test_checkpoint_errors(tmp_path) -> None:
    vocab = dsg.DSGVocab.build([rich_dsg()])
    with pytest.raises(CheckpointError, match="missing"):
        load_encoder(tmp_path)
    tiny_encoder("gat", vocab).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="not a RGTrmEncoder"):
        RGTrmEncoder.from_pretrained(tmp_path)
    assert isinstance(DSGEncoder.from_pretrained(tmp_path), rgtrm.GATEncoder)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "arch": "lstm"}))
    with pytest.raises(CheckpointError, match="unknown arch"):
        load_encoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "config": {**cfg["config"], "hidden": 16}}))
    with pytest.raises(CheckpointError, match="does not match"):
        load_encoder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_encoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_encoder(tmp_path)


def test_config_and_input_errors() -> None:
    d = rich_dsg()
    vocab = dsg.DSGVocab.build([d])
    with pytest.raises(RGTrmConfigError, match="heads"):
        RGTrmEncoder(vocab, hidden=10, heads=4)
    with pytest.raises(RGTrmConfigError, match="recurrence"):
        RGTrmEncoder(vocab, hidden=8, heads=2, recurrence="gru")  # type: ignore[arg-type]
    with pytest.raises(RGTrmConfigError, match="labels"):
        RGTrmEncoder("vocab", hidden=8, heads=2)  # type: ignore[arg-type]
    with pytest.raises(RGTrmConfigError, match="time_encoding"):
        RGTrmEncoder(vocab, hidden=8, heads=2, time_encoding="rotary")
    enc = tiny_encoder("rgtrm", vocab)
    with pytest.raises(RGTrmInputError, match="FrameInstanceBatch"):
        enc([d])  # type: ignore[arg-type]
    bigger = dsg.DSGVocab.build([d, DynamicSceneGraph((SceneGraph(("zebra",)),))])
    with pytest.raises(RGTrmInputError, match="entity ids"):
        enc(dsg.collate([DynamicSceneGraph((SceneGraph(("zebra",)),))], bigger))
    learned = tiny_encoder("rgtrm", vocab, time_encoding="learned", max_frames=2)
    with pytest.raises(RGTrmInputError, match="max_frames"):
        learned(dsg.collate([d], vocab))


def test_paper_defaults_and_encode_helper() -> None:
    d = rich_dsg()
    vocab = dsg.DSGVocab.build([d])
    enc = RGTrmEncoder(vocab)
    assert enc.config["hidden"] == 768 and enc.config["num_layers"] == 12 and enc.config["heads"] == 8
    assert enc.config["recurrence"] == "paper"
    assert len(enc.layers) == 12 and enc.layers[0].conv.heads == 8 and enc.layers[0].conv.out_channels == 96
    small = tiny_encoder("rgtrm", vocab)
    torch.testing.assert_close(small.encode([d], vocab).pooled, small(dsg.collate([d], vocab)).pooled)
