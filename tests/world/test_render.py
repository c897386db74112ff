import numpy as np
import torch

from vdm.world import COLOURS, Difficulty, World, WorldConfig, render, render_batch, sample_scene


def test_rendering_is_deterministic_per_seed(small_config):
    world = World(small_config, [1, 4, 6])
    a, b = world.sample(42), world.sample(42)
    assert torch.equal(a.video, b.video)
    assert a.dsg == b.dsg and a.caption == b.caption
    assert not torch.equal(a.video, world.sample(43).video)


def test_batch_render_equals_single_render(small_config):
    scenes = [sample_scene(s, small_config, Difficulty.level(5)) for s in range(5)]
    batch = render_batch(scenes)
    for k, sc in enumerate(scenes):
        video, masks = render(sc)
        assert torch.equal(batch.videos[k], video)
        assert torch.equal(batch.masks[k, :, : len(sc.entities)], masks)
        assert not batch.masks[k, :, len(sc.entities) :].any()


def test_pixels_are_background_or_an_entity_colour_blend(small_config):
    sc = sample_scene(7, small_config, Difficulty.level(6))
    video, masks = render(sc)
    bg = torch.tensor(small_config.background, dtype=torch.uint8)
    outside = ~masks.any(dim=1)
    assert (video[outside] == bg).all()
    palette = np.array([COLOURS[c] for c in small_config.colours], dtype=np.float32)
    for f in range(sc.num_frames):
        for i in range(len(sc.entities)):
            if masks[f, i].any():
                expected = np.round(sc.alpha[f, i] * palette[sc.colour[f, i]]).astype(np.uint8)
                assert (video[f][masks[f, i]] == torch.from_numpy(expected)).all()


def test_grey_background_and_large_frames():
    cfg = WorldConfig(height=128, width=96, background=(40, 40, 40))
    sample = World(cfg, 3).sample(0)
    v = sample.video
    assert v.shape == (16, 3, 128, 96)
    assert (v[:, :, 0, 0] == 40).all()
