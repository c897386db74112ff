"""Bad input raises typed errors that name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdm.interpolation import (
    InterpolationError,
    InvalidVideoError,
    LinearBlend,
    MotionCompensatedInterpolator,
    NonFiniteVideoError,
    PyramidFlowEstimator,
    TooFewFramesError,
    VideoDTypeError,
    VideoShapeError,
    interpolate,
)

ENTRY_POINTS = [interpolate, MotionCompensatedInterpolator(), LinearBlend()]


@pytest.mark.parametrize("call", ENTRY_POINTS, ids=["interpolate", "motion", "linear"])
@pytest.mark.parametrize("shape", [(3, 8, 8), (8, 8), (1, 2, 3, 3, 8, 8)])
def test_wrong_ndim(call, shape) -> None:
    with pytest.raises(VideoShapeError, match=rf"got {len(shape)} dims"):
        call(torch.rand(shape))


@pytest.mark.parametrize("video", [torch.rand(1, 3, 8, 8), torch.rand(2, 1, 3, 8, 8)], ids=["single", "batched"])
def test_one_frame(video) -> None:
    with pytest.raises(TooFewFramesError, match="at least 2 frames, got 1"):
        interpolate(video)


def test_empty_axis() -> None:
    with pytest.raises(VideoShapeError, match="empty axis"):
        interpolate(torch.rand(4, 0, 8, 8))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_names_the_frame(bad) -> None:
    video = torch.rand(5, 3, 8, 8)
    video[3, 1, 2, 2] = bad
    with pytest.raises(NonFiniteVideoError, match="1 non-finite values.*first in frame 3"):
        interpolate(video)
    batched = torch.rand(2, 4, 3, 8, 8)
    batched[1, 2, 0, 0, 0] = bad
    with pytest.raises(NonFiniteVideoError, match="video 1, frame 2"):
        interpolate(batched)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int16, torch.bool, torch.complex64])
def test_unsupported_dtype(dtype) -> None:
    with pytest.raises(VideoDTypeError, match=str(dtype)):
        interpolate(torch.zeros(3, 3, 8, 8, dtype=dtype))


def test_not_a_tensor() -> None:
    with pytest.raises(VideoDTypeError, match="ndarray"):
        interpolate(np.zeros((3, 3, 8, 8), dtype=np.float32))


@pytest.mark.parametrize("times", [-1, 1.5, True, "2"])
def test_bad_times(times) -> None:
    with pytest.raises(ValueError, match="times must be a non-negative int"):
        interpolate(torch.rand(3, 3, 8, 8), times=times)


def test_error_hierarchy() -> None:
    assert issubclass(TooFewFramesError, VideoShapeError)
    assert issubclass(VideoShapeError, InvalidVideoError) and issubclass(InvalidVideoError, ValueError)
    assert issubclass(VideoDTypeError, TypeError) and issubclass(NonFiniteVideoError, InterpolationError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MotionCompensatedInterpolator(trajectory_tolerance=0),
        lambda: MotionCompensatedInterpolator(sampling="nearest"),
        lambda: MotionCompensatedInterpolator(analysis_size=0),
        lambda: MotionCompensatedInterpolator(pairs_per_chunk=0),
        lambda: PyramidFlowEstimator(match_window=4),
        lambda: PyramidFlowEstimator(search_radius=-1),
    ],
)
def test_bad_settings(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_t_outside_open_interval() -> None:
    frames = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"t must lie in \(0, 1\)"):
        MotionCompensatedInterpolator().interpolate_with_details(frames, frames, t=1.0)
