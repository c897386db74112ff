"""The ×2 interface: frame counts, layouts, dtype/range preservation, exact keyframes, static videos."""

from __future__ import annotations

import pytest
import torch

from vdm.interpolation import (
    CallableInterpolator,
    FrameInterpolator,
    InterpolatorOutputError,
    LinearBlend,
    MotionCompensatedInterpolator,
    PairwiseInterpolator,
    interpolate,
    nominal_range,
    num_interpolated_frames,
)
from vdm.interpolation.testing import moving_square, timeline

INTERPOLATORS = [LinearBlend(), MotionCompensatedInterpolator()]
IDS = ["linear", "motion"]


def test_frame_count_formula() -> None:
    assert num_interpolated_frames(16, 0) == 16
    assert num_interpolated_frames(16, 1) == 31
    assert num_interpolated_frames(16, 2) == 61
    assert num_interpolated_frames(2, 3) == 9
    with pytest.raises(ValueError, match="times"):
        num_interpolated_frames(16, -1)


@pytest.mark.parametrize("interpolator", INTERPOLATORS, ids=IDS)
def test_sixteen_keyframes_become_31_then_61(interpolator: FrameInterpolator) -> None:
    video = torch.rand(16, 3, 24, 32)
    once = interpolator(video)
    assert once.shape == (31, 3, 24, 32)
    twice = interpolate(video, times=2, interpolator=interpolator)
    assert twice.shape == (61, 3, 24, 32)
    # the keyframes sit unchanged at every 4th position, the first pass's frames at every 2nd
    assert torch.equal(twice[::4], video)
    assert torch.equal(twice[::2], once)


def test_default_interpolator_is_motion_compensated() -> None:
    video = moving_square(timeline(3), 32, square=8, start=(4, 4), velocity=(4, 2))
    assert torch.equal(interpolate(video, 1), MotionCompensatedInterpolator()(video))
    assert not torch.equal(interpolate(video, 1), LinearBlend()(video))


def test_times_zero_returns_the_input() -> None:
    video = torch.rand(4, 3, 8, 8)
    assert interpolate(video, times=0) is video


@pytest.mark.parametrize("interpolator", INTERPOLATORS, ids=IDS)
def test_batched_equals_one_video_at_a_time(interpolator: FrameInterpolator) -> None:
    videos = torch.stack(
        [moving_square(timeline(5), 32, square=8, start=(4, 4 + k), velocity=(3, k)) for k in range(3)]
    )
    batched = interpolate(videos, 2, interpolator)
    assert batched.shape == (3, 17, 3, 32, 32)
    for k in range(3):
        torch.testing.assert_close(batched[k], interpolate(videos[k], 2, interpolator), atol=1e-5, rtol=0)


def test_results_do_not_depend_on_chunking() -> None:
    video = moving_square(timeline(6), 32, square=8, start=(4, 4), velocity=(3, 2))
    whole = MotionCompensatedInterpolator()(video)
    chunked = MotionCompensatedInterpolator(pairs_per_chunk=2)(video)
    torch.testing.assert_close(whole, chunked, atol=1e-5, rtol=0)


@pytest.mark.parametrize("interpolator", INTERPOLATORS, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("signed", [False, True], ids=["unit", "signed"])
def test_float_dtype_and_range_preserved(interpolator: FrameInterpolator, dtype: torch.dtype, signed: bool) -> None:
    video = moving_square(timeline(4), 32, square=10, start=(3, 5), velocity=(5, 3))
    if signed:
        video = video * 2 - 1
    video = video.to(dtype)
    out = interpolate(video, 2, interpolator)
    assert out.dtype == dtype
    assert torch.equal(out[::4], video)
    assert out.min() >= video.min() and out.max() <= video.max()
    assert nominal_range(out) == nominal_range(video)


@pytest.mark.parametrize("interpolator", INTERPOLATORS, ids=IDS)
def test_uint8_preserved_and_rounded(interpolator: FrameInterpolator) -> None:
    video = (moving_square(timeline(4), 32, square=10, start=(3, 5), velocity=(5, 3)) * 255).round().to(torch.uint8)
    out = interpolate(video, 1, interpolator)
    assert out.dtype == torch.uint8
    assert torch.equal(out[::2], video)
    as_float = interpolate(video.float() / 255, 1, interpolator)[1::2] * 255
    assert (out[1::2].float() - as_float).abs().max() <= 0.5 + 1e-3  # the same frames, rounded


@pytest.mark.parametrize("interpolator", INTERPOLATORS, ids=IDS)
def test_static_video_is_reproduced(interpolator: FrameInterpolator) -> None:
    frame = moving_square([0.0], 48, square=12, start=(10.3, 20.7), velocity=(0, 0))[0]
    video = frame.expand(5, -1, -1, -1).contiguous()
    out = interpolate(video, 2, interpolator)
    assert out.shape == (17, 3, 48, 48)
    torch.testing.assert_close(out, frame.expand(17, -1, -1, -1), atol=1e-5, rtol=0)
    as_uint8 = (video * 255).round().to(torch.uint8)
    assert torch.equal(interpolate(as_uint8, 1, interpolator), as_uint8[:1].expand(9, -1, -1, -1))


def test_any_channel_count_and_odd_sizes() -> None:
    video = torch.rand(3, 4, 17, 9)  # e.g. VAE latents, odd sizes
    out = interpolate(video, 2)
    assert out.shape == (9, 4, 17, 9) and torch.isfinite(out).all()
    tiny = torch.rand(2, 1, 1, 1)
    torch.testing.assert_close(interpolate(tiny, 1)[1], tiny.mean(0), atol=1e-6, rtol=0)


def test_protocol_accepts_plain_callables_and_checks_their_output() -> None:
    def repeat_first(video: torch.Tensor) -> torch.Tensor:  # a valid (if useless) ×2 pass
        return video.repeat_interleave(2, dim=-4)[:-1]

    assert isinstance(repeat_first, FrameInterpolator)
    assert interpolate(torch.rand(4, 3, 8, 8), 2, repeat_first).shape == (13, 3, 8, 8)
    with pytest.raises(InterpolatorOutputError, match=r"must return \(7, 3, 8, 8\)"):
        interpolate(torch.rand(4, 3, 8, 8), 1, lambda v: v)


def test_pairwise_subclass_must_return_frames_of_the_right_shape() -> None:
    class Broken(PairwiseInterpolator):
        def interpolate_pairs(self, frame0, frame1, t=0.5):
            return frame0[:, :1]

    with pytest.raises(InterpolatorOutputError, match="Broken.interpolate_pairs returned"):
        Broken()(torch.rand(3, 3, 8, 8))


def test_interpolators_are_frame_interpolators() -> None:
    for interpolator in [*INTERPOLATORS, CallableInterpolator(lambda a, b, t: a)]:
        assert isinstance(interpolator, FrameInterpolator)
        assert type(interpolator).__name__ in repr(interpolator)


def test_gradients_are_not_tracked() -> None:
    video = torch.rand(3, 3, 16, 16, requires_grad=True)
    out = interpolate(video, 1)
    assert not out.requires_grad
