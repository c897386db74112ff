"""Forward (splatting) warps and hole filling, vectorised with ``index_add_``.

Backward warping (:func:`~vdm.interpolation.flow.warp`) needs a flow defined on the *output* grid; the flows we
estimate live on the input frames. :func:`forward_splat` pushes per-pixel values (here: the motion vectors
themselves) along a flow onto the output grid, with bilinear footprints and per-pixel importance weights, in the
manner of softmax splatting (Niklaus & Liu, CVPR 2020) with a fixed, hand-set importance instead of a learned one.
:func:`fill_holes` fills what no pixel landed on by push–pull (normalised convolution over a pyramid).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .flow import pixel_grid

__all__ = ["fill_holes", "forward_splat"]


def forward_splat(values: Tensor, flow: Tensor, weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Splat ``values`` from every pixel ``p`` to ``p + flow(p)`` with bilinear footprints scaled by ``weight``.

    Args:
        values: ``(N, K, H, W)``.
        flow: ``(N, 2, H, W)`` displacements in pixels (x, y); targets outside the frame are dropped.
        weight: ``(N, 1, H, W)`` non-negative importance of each source pixel.

    Returns:
        ``(weighted_sum (N, K, H, W), weight_sum (N, 1, H, W), coverage (N, 1, H, W))`` on the output grid:
        ``Σ b·w·v``, ``Σ b·w`` and ``Σ b`` over the pixels landing there (``b`` the bilinear footprint), so the
        splatted value is ``weighted_sum / weight_sum`` where ``coverage > 0``.
    """
    n, k, h, w = values.shape
    target = pixel_grid(h, w, device=values.device, dtype=flow.dtype) + flow
    x, y = target[:, 0], target[:, 1]
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    rows = torch.cat([values * weight, weight, torch.ones_like(weight)], dim=1)  # (N, K + 2, H, W)
    rows = rows.transpose(0, 1).reshape(k + 2, -1)
    base = (torch.arange(n, device=values.device) * (h * w)).view(n, 1, 1)
    acc = values.new_zeros((k + 2, n * h * w))
    for ox, oy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        xi, yi = x0 + ox, y0 + oy
        footprint = (fx if ox else 1 - fx) * (fy if oy else 1 - fy)
        inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
        index = base + yi.clamp(0, h - 1).long() * w + xi.clamp(0, w - 1).long()
        acc.index_add_(1, index.reshape(-1), rows * (footprint * inside).reshape(1, -1).to(rows.dtype))
    acc = acc.view(k + 2, n, h, w).transpose(0, 1)
    return acc[:, :k], acc[:, k : k + 1], acc[:, k + 1 :]


def fill_holes(values: Tensor, confidence: Tensor, threshold: float = 0.5, eps: float = 1e-8) -> Tensor:
    """Fill low-confidence pixels of ``values`` from their surroundings by push–pull.

    "Push": a pyramid of confidence-weighted 2×2 means down to 1 pixel. "Pull": from the coarsest level up, every
    pixel keeps its own (confidence-normalised) value in proportion ``min(confidence / threshold, 1)`` and takes the
    up-sampled coarser estimate for the rest. Pixels with ``confidence >= threshold`` are unchanged; a hole takes the
    confidence-weighted mean of the nearest filled region, at the scale of the hole.

    Args:
        values: ``(N, K, H, W)``.
        confidence: ``(N, 1, H, W)`` in [0, ∞); values above 1 are clamped.
    """
    conf = confidence.clamp(0, 1)
    levels = [(values * conf, conf)]
    while max(levels[-1][1].shape[-2:]) > 1:
        weighted, mass = levels[-1]
        levels.append((F.avg_pool2d(weighted, 2, ceil_mode=True), F.avg_pool2d(mass, 2, ceil_mode=True)))
    weighted, mass = levels[-1]
    filled = weighted / mass.clamp_min(eps)
    for weighted, mass in reversed(levels[:-1]):
        coarse = F.interpolate(filled, size=mass.shape[-2:], mode="bilinear", align_corners=False)
        keep = (mass / threshold).clamp(max=1)
        filled = keep * (weighted / mass.clamp_min(eps)) + (1 - keep) * coarse
    return filled
