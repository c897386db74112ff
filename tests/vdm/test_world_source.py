"""The world as training source (rendered cache) and as evaluation bench for pipelines."""

import math

import torch

from vdm.training import TrainConfig
from vdm.training.world_source import CachedSource, WorldSource, build_cache, evaluate_on_world


def test_cache_round_trip_and_deterministic_batches(tmp_path):
    world = WorldSource.from_config(TrainConfig(num_frames=8, resolution=16, max_events=2))
    build_cache(world, tmp_path / "c", 10, shard=4, workers=1)
    assert len(list((tmp_path / "c").glob("shard-*.safetensors"))) == 3
    src = CachedSource.load(str(tmp_path / "c"), world)
    assert len(src) == 10
    b1, b2 = src.batch(7, 3), src.batch(7, 3)
    assert b1.video.shape == (3, 8, 3, 16, 16) and b1.video.min() >= -1.0 and b1.video.max() <= 1.0
    assert torch.equal(b1.video, b2.video) and b1.captions == b2.captions
    videos, captions, dsgs = world.examples([0, 1])
    assert captions == src.captions[:2] and dsgs == src.dsgs[:2]
    assert torch.equal(videos, src.videos[:2])
    vocab = world.vocab()
    assert all(d.entity_table[e].label in vocab.entities for d in dsgs for e in d.entity_table)


def test_evaluate_on_world_scores_a_pipeline(pipe):
    m = evaluate_on_world(pipe, num=2, level=1, dsg_source="gold", steps=2, batch_size=2)
    assert m["videos"] == 2 and 0.0 <= m["clean"] <= 1.0
    for k in ("trirec", "trirec_actions", "faithfulness", "order_accuracy"):
        assert math.isnan(m[k]) or 0.0 <= m[k] <= 1.0
