"""Vectorised rendering of scenes into uint8 videos (and the exact per-entity masks).

All frames of all scenes of a batch are rasterised at once with :func:`~vdm.world.geometry.shape_masks`
and composited over the plain background: a pixel inside entity ``i`` gets
``background + alpha_i * (colour_i - background)`` (entities never overlap, so there is no z-order).
Rendering is pure arithmetic (NumPy, float32), hence deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .geometry import BOUNDING_RADIUS, SHAPE_INDEX, shape_masks
from .scene import Scene
from .vocabulary import COLOURS

__all__ = ["RenderedBatch", "render", "render_batch"]


@dataclass(frozen=True)
class RenderedBatch:
    """Rendered videos ``(B, F, H, W, 3)`` uint8 and per-entity masks ``(B, F, N, H, W)`` bool.

    ``masks[b, f, i]`` is the set of pixels of entity ``i`` of scene ``b`` in frame ``f`` (empty when the
    entity is invisible there); entities beyond a scene's own count are always empty.
    """

    videos: torch.Tensor
    masks: torch.Tensor


def render_batch(scenes: Sequence[Scene]) -> RenderedBatch:
    """Render scenes that share one :class:`~vdm.world.config.WorldConfig` (frames, size, background)."""
    if not scenes:
        raise ValueError("render_batch needs at least one scene")
    cfg = scenes[0].config
    for k, sc in enumerate(scenes):
        if (sc.config.num_frames, sc.config.height, sc.config.width, sc.config.background) != (
            cfg.num_frames,
            cfg.height,
            cfg.width,
            cfg.background,
        ):
            raise ValueError(f"scene {k} has another frame size/count or background than scene 0; render them apart")
    b, f, h, w = len(scenes), cfg.num_frames, cfg.height, cfg.width
    n = max(len(sc.entities) for sc in scenes)

    def stack(name: str, fill: float) -> np.ndarray:
        out = np.full((b, f, n), fill, dtype=np.float32)
        for k, sc in enumerate(scenes):
            out[k, :, : len(sc.entities)] = getattr(sc, name)
        return out

    shape = np.zeros((b, f, n), dtype=np.int64)
    rgb = np.zeros((b, f, n, 3), dtype=np.float32)
    for k, sc in enumerate(scenes):
        shape[k, :, : len(sc.entities)] = [SHAPE_INDEX[e.shape] for e in sc.entities]
        palette = np.array([COLOURS[c] for c in sc.config.colours], dtype=np.float32)
        rgb[k, :, : len(sc.entities)] = palette[sc.colour]
    alpha, size, x, y = stack("alpha", 0.0), stack("size", 0.0), stack("x", -1e4), stack("y", -1e4)
    # rasterise each entity in a k x k window around its centre, then scatter the windows into the frame
    k = math.ceil(2 * max(BOUNDING_RADIUS.values()) * float(size.max())) + 3
    x0 = np.floor(x) - k // 2
    y0 = np.floor(y) - k // 2
    local = shape_masks(shape, x, y, size, stack("angle", 0.0), k, k, origin=(x0, y0))
    local &= (alpha > 0)[..., None, None]
    cols = x0.astype(np.int64)[..., None, None] + np.arange(k)
    rows = y0.astype(np.int64)[..., None, None] + np.arange(k)[:, None]
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    flat = np.where(inside, rows * w + cols, h * w)  # outside the frame -> a spare slot, dropped below
    masks = np.zeros((b, f, n, h * w + 1), dtype=bool)
    np.put_along_axis(masks, flat.reshape(b, f, n, k * k), local.reshape(b, f, n, k * k), axis=-1)
    masks = masks[..., : h * w].reshape(b, f, n, h, w)
    # entities never overlap: each pixel shows the background or exactly one entity, looked up in a table
    bg = np.asarray(cfg.background, dtype=np.float32)
    value = bg + alpha[..., None] * (rgb - bg)  # (B, F, N, 3)
    table = np.concatenate([np.broadcast_to(bg, (b, f, 1, 3)), value], axis=2)
    table = np.clip(np.round(table), 0, 255).astype(np.uint8)
    index = np.zeros((b, f, h, w), dtype=np.int64)
    for i in range(n):
        index[masks[:, :, i]] = i + 1
    video = np.take_along_axis(table.reshape(b * f, n + 1, 3), index.reshape(b * f, h * w, 1), axis=1)
    return RenderedBatch(torch.from_numpy(video.reshape(b, f, h, w, 3)), torch.from_numpy(masks))


def render(scene: Scene) -> tuple[torch.Tensor, torch.Tensor]:
    """Render one scene: ``(video (F, H, W, 3) uint8, masks (F, n, H, W) bool)``."""
    out = render_batch([scene])
    return out.videos[0], out.masks[0, :, : len(scene.entities)]
