"""The parser reads clean renders back into exactly their gold DSG, and degrades gracefully."""

import numpy as np
import pytest
import torch

from dsg import EventSchedule, VisualParser
from vdm.video_io import VideoFormatError
from vdm.world import Difficulty, World, WorldConfig, WorldParser, score_video, score_videos


def _same(parsed, gold):
    assert parsed.entities == gold.entities
    assert parsed.schedule.events == gold.schedule.events
    for m, (p, g) in enumerate(zip(parsed.frames, gold.frames)):
        assert p == g, f"frame {m}: parsed {p} != gold {g}"
    assert parsed.num_frames == gold.num_frames and parsed.time_unit == "frame"


def test_is_a_visual_parser():
    assert isinstance(WorldParser(), VisualParser)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6])
def test_gold_dsg_equals_parse_of_clean_render_32(level, samples_by_level, small_config):
    parser = WorldParser(small_config)
    for sample in samples_by_level[level]:
        _same(parser.parse(sample.video), sample.dsg)


def test_gold_dsg_equals_parse_of_clean_render_64():
    world = World(WorldConfig(), [2, 4, 6])
    parser = WorldParser(world.config)
    for sample in world.sample_batch(list(range(100, 106))):
        _same(parser.parse(sample.video), sample.dsg)


def test_float_layouts_and_ranges_parse_the_same(small_config):
    sample = World(small_config, 5).sample(3)
    parser = WorldParser(small_config)
    ref = parser.parse(sample.video)
    as_float = sample.video.float() / 255.0
    _same(parser.parse(as_float), ref)
    _same(parser.parse(as_float.permute(0, 2, 3, 1).numpy()), ref)  # (F, H, W, C) numpy
    _same(parser.parse(as_float * 2 - 1, value_range=(-1.0, 1.0)), ref)
    with pytest.raises(VideoFormatError, match="value_range"):
        parser.parse(as_float * 2 - 1)
    with pytest.raises(VideoFormatError):
        parser.parse(torch.zeros(16, 5, 32, 32))
    with pytest.raises(VideoFormatError):
        parser.parse(torch.full((4, 3, 8, 8), float("nan")))


def test_empty_video_parses_to_no_entities(small_config):
    dsg = WorldParser(small_config).parse(torch.zeros(16, 3, 32, 32, dtype=torch.uint8))
    assert dsg.num_frames == 16 and not dsg.entities and not dsg.schedule.events and dsg.is_empty


def test_noise_and_blur_degrade_gracefully(samples_by_level, small_config):
    parser = WorldParser(small_config)
    gen = torch.Generator().manual_seed(0)
    samples = samples_by_level[3][:4]

    def mean_trirec(transform) -> float:
        return float(
            np.mean([score_video(transform(s.video.float() / 255), s.dsg, parser=parser).trirec for s in samples])
        )

    light = mean_trirec(lambda v: (v + 0.02 * torch.randn(v.shape, generator=gen)).clamp(0, 1))
    heavy = mean_trirec(lambda v: (v + 0.08 * torch.randn(v.shape, generator=gen)).clamp(0, 1))
    blurred = mean_trirec(lambda v: torch.nn.functional.avg_pool2d(v, 3, 1, 1))
    assert light >= 0.95 and heavy >= 0.5 and blurred >= 0.5
    assert heavy <= light
    noisy = (samples[0].video.float() / 255 + 0.08 * torch.randn(16, 3, 32, 32, generator=gen)).clamp(0, 1)
    assert parser.parse(noisy).provenance.degraded, "denoising must be recorded in the provenance"


def test_scores_of_clean_renders_are_perfect(samples_by_level, small_config):
    parser = WorldParser(small_config)
    for sample in samples_by_level[6][:4]:
        for gold in (sample.dsg, sample.schedule):
            s = score_video(sample.video, gold, parser=parser)
            assert (s.trirec, s.trirec_actions, s.faithfulness, s.precision, s.order_accuracy) == (1, 1, 1, 1, 1)


def test_scores_see_wrong_videos(small_config):
    world = World(small_config, 3)
    parser = WorldParser(small_config)
    sample = world.sample(5)
    other = world.sample(6)
    wrong = score_video(other.video, sample.schedule, parser=parser)
    assert wrong.faithfulness < 1 and wrong.trirec_actions < 1
    # the same events played backwards: actions are undone and happen in reverse order
    reverse = score_video(sample.video.flip(0), sample.schedule, parser=parser)
    assert reverse.trirec_actions < 1
    empty = score_video(torch.zeros_like(sample.video), sample.schedule, parser=parser)
    assert (empty.trirec_actions, empty.faithfulness) == (0.0, 0.0)
    batch = score_videos(torch.stack([sample.video, other.video]), [sample.schedule, other.schedule], parser=parser)
    assert batch["faithfulness"] == 1.0 and batch["trirec"] == 1.0


def test_event_order_accuracy_against_a_reordered_schedule(small_config):
    sample = World(small_config, Difficulty.level(3)).sample(9)
    events = sample.schedule.events
    swapped = EventSchedule.from_tuples(
        [(e.agent, e.predicate, e.target, (len(events) - k, len(events) - k + 1)) for k, e in enumerate(events)],
        "frame",
        sample.schedule.entities,
    )
    s = score_video(sample.video, swapped, parser=WorldParser(small_config))
    assert s.faithfulness == 1.0 and s.order_accuracy == 0.0 and s.kendall_tau == -1.0
