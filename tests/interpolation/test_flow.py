"""Building blocks: warping, filters, pyramid flow, forward splatting, hole filling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vdm.interpolation.flow import (
    PyramidFlowEstimator,
    block_match,
    box_filter,
    flow_magnitude,
    local_normalize,
    median_filter,
    resize_flow,
    warp,
)
from vdm.interpolation.splatting import fill_holes, forward_splat
from vdm.interpolation.testing import moving_square, shifting_texture


def test_warp_zero_flow_is_identity_and_integer_flow_shifts() -> None:
    image = torch.rand(2, 3, 10, 12)
    torch.testing.assert_close(warp(image, torch.zeros(2, 2, 10, 12)), image, atol=1e-6, rtol=0)
    flow = torch.zeros(2, 2, 10, 12)
    flow[:, 0] = 2  # sample 2 px to the right
    flow[:, 1] = -1  # and 1 px up
    torch.testing.assert_close(warp(image, flow)[..., 1:, :-2], image[..., :-1, 2:], atol=1e-6, rtol=0)
    torch.testing.assert_close(warp(image, flow, "bicubic")[..., 1:, :-2], image[..., :-1, 2:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_box_filter_equals_avg_pool(size: int) -> None:
    x = torch.rand(2, 3, 11, 8)
    expected = F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)
    torch.testing.assert_close(box_filter(x, size), expected, atol=1e-5, rtol=0)


def test_median_filter_equals_sorting_and_removes_outliers() -> None:
    x = torch.rand(2, 2, 9, 7)
    padded = F.pad(x.reshape(4, 1, 9, 7), (1, 1, 1, 1), mode="replicate")
    expected = F.unfold(padded, 3).median(dim=1).values.view(2, 2, 9, 7)
    assert torch.equal(median_filter(x), expected)
    spike = torch.zeros(1, 2, 8, 8)
    spike[0, :, 4, 4] = 50.0
    assert torch.equal(median_filter(spike), torch.zeros_like(spike))


def test_flow_magnitude_and_resize() -> None:
    flow = torch.randn(3, 2, 6, 5)
    torch.testing.assert_close(flow_magnitude(flow), flow.norm(dim=1, keepdim=True))
    resized = resize_flow(torch.ones(1, 2, 8, 8) * torch.tensor([1.0, 2.0]).view(1, 2, 1, 1), (16, 4))
    torch.testing.assert_close(resized[0, :, 5, 2], torch.tensor([0.5, 4.0]))


def test_local_normalize_ignores_affine_intensity_changes() -> None:
    image = shifting_texture([0.0], 32)[:, :1]
    torch.testing.assert_close(
        local_normalize(image * 0.5 + 0.2, 7, eps=1e-4), local_normalize(image, 7, eps=1e-4), atol=2e-3, rtol=0
    )
    assert local_normalize(torch.full((1, 1, 8, 8), 0.7), 7).abs().max() < 1e-3  # flat stays flat (no noise gain)


def test_block_match_finds_integer_shift_and_prefers_zero_on_flat() -> None:
    texture = shifting_texture([0.0], 40, max_frequency=0.2)
    target = torch.roll(texture, shifts=(1, -2), dims=(-2, -1))  # content moves 1 down, 2 left
    offset = block_match(texture, target, radius=2, window=3, penalty=1e-3)
    assert torch.equal(offset[0, :, 5:-5, 5:-5], torch.tensor([-2.0, 1.0]).view(2, 1, 1).expand(2, 30, 30))
    flat = torch.full((1, 3, 12, 12), 0.4)
    assert torch.equal(block_match(flat, flat, 2, 3, penalty=1e-3), torch.zeros(1, 2, 12, 12))


@pytest.mark.parametrize("velocity", [(2.5, -1.5), (-7.0, 4.0), (18.0, 11.0)])
def test_pyramid_flow_recovers_translation(velocity: tuple[float, float]) -> None:
    frames = shifting_texture([0.0, 1.0], 96, velocity=velocity, max_frequency=0.12)
    flow = PyramidFlowEstimator()(frames[:1], frames[1:])
    interior = flow[0, :, 24:-24, 24:-24]
    error = (interior - torch.tensor(velocity).view(2, 1, 1)).abs()
    assert error.median() < 0.1 and error.mean() < 0.3


def test_pyramid_flow_follows_a_square_through_a_fade() -> None:
    frames = moving_square([0.0, 1.0], 64, square=16, start=(20, 20), velocity=(4, 3))
    frames[1] = frames[1] * 0.6
    flow = PyramidFlowEstimator()(frames[:1], frames[1:])
    corner = flow[0, :, 20:23, 20:23].reshape(2, -1).median(dim=1).values  # top-left corner: well-textured
    torch.testing.assert_close(corner, torch.tensor([4.0, 3.0]), atol=0.3, rtol=0)


def test_forward_splat_moves_values_and_conserves_mass() -> None:
    values = torch.arange(16.0).view(1, 1, 4, 4)
    flow = torch.zeros(1, 2, 4, 4)
    flow[:, 0] = 1.0  # everything one pixel to the right
    weighted, _weight, coverage = forward_splat(values, flow, torch.ones(1, 1, 4, 4))
    assert torch.equal(weighted[0, 0, :, 1:], values[0, 0, :, :-1])
    assert torch.equal(coverage[0, 0, :, 0], torch.zeros(4))  # nothing lands in the first column
    assert coverage.sum() == 12  # the last column left the frame
    half = forward_splat(torch.ones(1, 1, 4, 4), torch.full((1, 2, 4, 4), 0.5), torch.full((1, 1, 4, 4), 2.0))
    assert torch.isclose(half[2][0, 0, 1:3, 1:3].sum(), torch.tensor(4.0))  # interior: bilinear footprints tile
    assert torch.equal(half[1], 2 * half[2])


def test_fill_holes_keeps_confident_pixels_and_fills_the_rest() -> None:
    values = torch.zeros(1, 2, 16, 16)
    values[:, 0, :, :8] = 3.0
    values[:, 0, :, 8:] = -1.0
    confidence = torch.ones(1, 1, 16, 16)
    confidence[..., 6:10, 6:10] = 0
    filled = fill_holes(values, confidence)
    keep = confidence.bool().expand_as(values)
    assert torch.equal(filled[keep], values[keep])
    hole = filled[0, 0, 6:10, 6:10]
    assert hole.min() >= -1 and hole.max() <= 3 and hole[:, 0].mean() > hole[:, -1].mean()
    assert torch.equal(fill_holes(values, torch.zeros(1, 1, 16, 16)), torch.zeros_like(values))  # nothing known
