"""Plugging in a user model ``(frame0, frame1, t) -> frame_t``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vdm.interpolation import CallableInterpolator, InterpolatorOutputError, LinearBlend, interpolate


class TinyBlendNet(nn.Module):
    """A stand-in for a learned interpolator: a 1×1 convolution over the stacked pair, initialised to the mean."""

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        self.mix = nn.Conv2d(2 * channels, channels, 1, bias=False)
        with torch.no_grad():
            self.mix.weight.zero_()
            for c in range(channels):
                self.mix.weight[c, c] = 0.5
                self.mix.weight[c, channels + c] = 0.5

    def forward(self, frame0: torch.Tensor, frame1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (frame0.shape[0], 1)
        return self.mix(torch.cat([frame0, frame1], dim=1))


def test_callable_reproduces_the_rule_it_wraps() -> None:
    video = torch.rand(6, 3, 16, 16)
    adapter = CallableInterpolator(lambda a, b, t: a + t * (b - a))
    torch.testing.assert_close(interpolate(video, 2, adapter), interpolate(video, 2, LinearBlend()))


def test_module_with_tensor_time_in_eval_mode() -> None:
    model = TinyBlendNet().eval()
    video = torch.rand(2, 4, 3, 16, 16)
    out = interpolate(video, 2, CallableInterpolator(model, time_as_tensor=True))
    assert out.shape == (2, 13, 3, 16, 16)
    torch.testing.assert_close(out, interpolate(video, 2, LinearBlend()), atol=1e-6, rtol=0)
    assert not model.training  # the user's mode is left alone


def test_model_sees_its_input_range_and_video_range_is_restored() -> None:
    seen = {}

    def model(frame0, frame1, t):
        seen["range"] = (float(frame0.min()), float(frame0.max()))
        return (frame0 + frame1) / 2

    video = torch.rand(3, 3, 8, 8) * 2 - 1  # [-1, 1] video
    video[0, 0, 0, 0], video[0, 0, 0, 1] = -1.0, 1.0
    out = CallableInterpolator(model, input_range=(0.0, 255.0))(video)
    assert seen["range"] == pytest.approx((0.0, 255.0), abs=1e-3)
    torch.testing.assert_close(out[1::2], (video[:-1] + video[1:]) / 2, atol=1e-5, rtol=0)


def test_overshooting_model_is_clamped_to_the_video_range() -> None:
    video = torch.rand(3, 3, 8, 8) * 0.5 + 0.25
    out = CallableInterpolator(lambda a, b, t: a * 10)(video)
    assert out.max() <= video.max() and out.min() >= video.min()


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda a, b, t: a[:, :1], r"returned shape \(2, 1, 8, 8\), expected \(2, 3, 8, 8\)"),
        (lambda a, b, t: a * float("nan"), "non-finite"),
        (lambda a, b, t: a.numpy(), "returned ndarray, not a Tensor"),
    ],
)
def test_bad_model_output_is_reported(fn, message) -> None:
    with pytest.raises(InterpolatorOutputError, match=message):
        CallableInterpolator(fn)(torch.rand(3, 3, 8, 8))


def test_bad_adapter_settings() -> None:
    with pytest.raises(TypeError, match="callable"):
        CallableInterpolator("rife.safetensors")
    with pytest.raises(ValueError, match="input_range"):
        CallableInterpolator(lambda a, b, t: a, input_range=(1.0, 0.0))
