"""Scenes obey the rules the parser relies on, at every level; sampling is deterministic per seed."""

import itertools

import numpy as np
import pytest
import torch

from vdm.world import Difficulty, World, WorldConfig, render, sample_scene
from vdm.world.geometry import BOUNDING_RADIUS


def test_same_seed_same_scene_other_seed_other_scene(small_config):
    d = Difficulty.level(5)
    a, b = sample_scene(11, small_config, d), sample_scene(11, small_config, d)
    assert a == b and a.events == b.events
    assert sample_scene(12, small_config, d) != a


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6])
def test_scene_rules(level, samples_by_level):
    for sample in samples_by_level[level]:
        sc = sample.scene
        cfg, diff = sc.config, sc.difficulty
        lo, hi = diff.num_events
        assert lo <= len(sc.events) <= hi
        assert sc.schedule.concurrency() <= diff.max_concurrency
        dmin, dmax = cfg.event_frames
        colours_seen = set()
        for ev in sc.events:
            assert dmin <= ev.end - ev.start <= dmax and ev.end <= cfg.num_frames - 1
        for ent in sc.entities:
            mine = sorted((e for e in sc.events if e.agent == ent.id), key=lambda e: e.start)
            for a, b in itertools.pairwise(mine):
                assert a.end < b.start, f"{ent.id} acts twice without a still frame: {a}, {b}"
            i = sc.index(ent.id)
            colours_seen |= set(sc.colour[:, i].tolist())
            if any(e.predicate == "appear" for e in mine):
                assert mine[0].predicate == "appear" and sc.alpha[0, i] == 0
            gone = [e for e in mine if e.predicate == "disappear"]
            if gone:
                assert mine[-1] is gone[0] and sc.alpha[-1, i] == 0
                assert not any(e.target == ent.id and e.start >= gone[0].start for e in sc.events)
        # one colour per entity over the whole video, ever
        per_entity = [set(sc.colour[:, i].tolist()) for i in range(len(sc.entities))]
        assert sum(len(s) for s in per_entity) == len(colours_seen)
        for ev in sc.events:
            if ev.target is not None:
                t = sc.index(ev.target)
                assert all(e.end <= ev.start or e.start >= ev.end for e in sc.events if e.agent == ev.target)
                assert np.all(sc.x[ev.start : ev.end + 1, t] == sc.x[ev.start, t])


def test_entities_never_overlap_and_stay_inside(samples_by_level):
    for samples in samples_by_level.values():
        for sample in samples:
            sc = sample.scene
            _, masks = render(sc)
            assert int(masks.sum(dim=1).max()) <= 1, "two entities share a pixel"
            r = np.array([BOUNDING_RADIUS[e.shape] for e in sc.entities]) * sc.size
            assert (sc.x - r >= 0).all() and (sc.x + r <= sc.config.width).all()
            assert (sc.y - r >= 0).all() and (sc.y + r <= sc.config.height).all()


def test_every_action_family_occurs():
    world = World(WorldConfig(height=32, width=32), [3, 6])
    preds = {ev.predicate.split()[0] for seed in range(60) for ev in world.scene(seed).events}
    assert preds >= {"move", "jump", "grow", "shrink", "rotate", "appear", "disappear", "approach", "touch", "turn"}


def test_restricted_actions_are_respected():
    cfg = WorldConfig(height=32, width=32, actions=("move", "jump"))
    preds = {ev.predicate for seed in range(15) for ev in sample_scene(seed, cfg, Difficulty.level(3)).events}
    assert preds <= {"move left", "move right", "move up", "move down", "jump"}


@pytest.mark.parametrize("size", [(16, 16, 24), (24, 48, 40), (12, 128, 128)])
def test_other_frame_counts_and_sizes(size):
    f, h, w = size
    cfg = WorldConfig(num_frames=f, height=h, width=w)
    sample = World(cfg, 2).sample(3)
    assert sample.video.shape == (f, 3, h, w) and sample.video.dtype == torch.uint8
    assert sample.dsg.num_frames == f
