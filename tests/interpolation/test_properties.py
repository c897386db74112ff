"""Property checks over random shapes, dtypes and value ranges."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from vdm.interpolation import MotionCompensatedInterpolator, interpolate, num_interpolated_frames

DTYPES = [torch.uint8, torch.float32, torch.float16, torch.float64]


@given(
    batch=st.sampled_from([None, 1, 2]),
    frames=st.integers(2, 5),
    channels=st.integers(1, 4),
    height=st.integers(1, 20),
    width=st.integers(1, 20),
    dtype=st.sampled_from(DTYPES),
    signed=st.booleans(),
    times=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_any_video_keeps_keyframes_dtype_and_range(batch, frames, channels, height, width, dtype, signed, times, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = (frames, channels, height, width) if batch is None else (batch, frames, channels, height, width)
    video = torch.rand(shape, generator=gen, dtype=torch.float64)
    if dtype == torch.uint8:
        video = (video * 255).round().to(torch.uint8)
    else:
        video = (video * 2 - 1 if signed else video).to(dtype)
    out = interpolate(video, times, MotionCompensatedInterpolator())
    assert out.dtype == video.dtype
    assert out.shape[-4] == num_interpolated_frames(frames, times)
    assert out.shape[:-4] == video.shape[:-4] and out.shape[-3:] == video.shape[-3:]
    assert torch.equal(out[..., :: 2**times, :, :, :], video)
    assert out.min() >= video.min() and out.max() <= video.max()
    if dtype.is_floating_point:
        assert torch.isfinite(out).all()
