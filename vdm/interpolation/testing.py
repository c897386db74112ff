"""Synthetic videos with exact in-between frames, for tests and benchmarks of frame interpolators.

Each generator renders the scene at arbitrary (fractional) times, so the true frame half-way between two keyframes
is available: render the keyframes at ``t = 0, 1, ..., F-1`` and the truth at ``t = 0, 0.5, 1, ...``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["moving_square", "psnr", "shifting_texture", "timeline"]


def timeline(num_keyframes: int, times: int = 0) -> Tensor:
    """Frame times of ``num_keyframes`` keyframes at ``0..F-1`` after ``times`` ×2 passes (spacing ``2**-times``)."""
    return torch.arange((num_keyframes - 1) * 2**times + 1, dtype=torch.float64) / 2**times


def _coverage(lower: Tensor, size: float, pixels: int) -> Tensor:
    """Fraction of each pixel ``[i - ½, i + ½)`` covered by ``[lower, lower + size)``: ``(T, pixels)``."""
    centres = torch.arange(pixels, dtype=torch.float64)
    left = torch.maximum(centres - 0.5, lower[:, None])
    right = torch.minimum(centres + 0.5, lower[:, None] + size)
    return (right - left).clamp(0, 1)


def moving_square(
    times: Tensor | Sequence[float],
    size: int | tuple[int, int] = 64,
    *,
    square: float = 16.0,
    start: tuple[float, float] = (8.0, 12.0),
    velocity: tuple[float, float] = (3.0, 2.0),
    foreground: Sequence[float] | Tensor = (0.9, 0.2, 0.1),
    background: Sequence[float] | Tensor = (0.1, 0.3, 0.6),
) -> Tensor:
    """A square translating at constant ``velocity`` (px per unit time), anti-aliased by exact area coverage.

    Args:
        times: frame times; the square's top-left corner is at ``start + velocity · t`` (x, y).
        size: frame size ``H`` or ``(H, W)``.
        foreground: a colour, or ``(T, C, H, W)`` frames seen through the square (e.g. a :func:`shifting_texture`
            with the same ``velocity``, for a textured square).
        background: a colour, or a ``(C, H, W)`` static background image.

    Returns:
        ``(T, C, H, W)`` float32 in [0, 1].
    """
    times = torch.as_tensor(times, dtype=torch.float64)
    h, w = (size, size) if isinstance(size, int) else size
    cov_x = _coverage(start[0] + velocity[0] * times, square, w)  # (T, W)
    cov_y = _coverage(start[1] + velocity[1] * times, square, h)  # (T, H)
    alpha = (cov_y[:, :, None] * cov_x[:, None, :])[:, None]  # (T, 1, H, W)
    fg = torch.as_tensor(foreground, dtype=torch.float64)
    fg = fg.view(1, -1, 1, 1) if fg.ndim == 1 else fg
    bg = torch.as_tensor(background, dtype=torch.float64)
    bg = bg.view(1, -1, 1, 1) if bg.ndim == 1 else bg.unsqueeze(0)
    return (alpha * fg + (1 - alpha) * bg).float()


def shifting_texture(
    times: Tensor | Sequence[float],
    size: int | tuple[int, int] = 64,
    *,
    velocity: tuple[float, float] = (2.5, -1.5),
    channels: int = 3,
    components: int = 12,
    max_frequency: float = 0.08,
    seed: int = 0,
) -> Tensor:
    """A smooth random texture (sum of ``components`` sinusoids per channel, frequencies ``<= max_frequency``
    cycles/px) translating at ``velocity`` px per unit time: frame ``t`` is ``texture(x - vx·t, y - vy·t)``.

    Returns:
        ``(T, channels, H, W)`` float32 in [0, 1].
    """
    times = torch.as_tensor(times, dtype=torch.float64)
    h, w = (size, size) if isinstance(size, int) else size
    gen = torch.Generator().manual_seed(seed)
    angle = torch.rand(channels, components, generator=gen, dtype=torch.float64) * 2 * math.pi
    freq = (0.25 + 0.75 * torch.rand(channels, components, generator=gen, dtype=torch.float64)) * max_frequency
    phase = torch.rand(channels, components, generator=gen, dtype=torch.float64) * 2 * math.pi
    kx, ky = (2 * math.pi * freq * angle.cos()), (2 * math.pi * freq * angle.sin())
    ys = torch.arange(h, dtype=torch.float64).view(1, h, 1) - velocity[1] * times.view(-1, 1, 1)  # (T, H, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, w) - velocity[0] * times.view(-1, 1, 1)  # (T, 1, W)
    arg = (
        kx.view(1, channels, components, 1, 1) * xs[:, None, None]
        + ky.view(1, channels, components, 1, 1) * ys[:, None, None]
        + phase.view(1, channels, components, 1, 1)
    )
    texture = arg.sin().sum(2) / math.sqrt(2 * components)  # roughly unit variance / sqrt(2)... zero mean
    return (0.5 + 0.25 * texture).clamp(0, 1).float()


def psnr(estimate: Tensor, truth: Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole tensor (``inf`` for identical inputs)."""
    mse = (estimate.double() - truth.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(data_range**2 / mse)
