"""Turning user videos and images into the exact input each feature network expects.

Videos arrive in many layouts and value ranges (diffusers pipelines give ``(B, T, H, W, C)`` floats in [0, 1],
decoders give uint8 ``(T, H, W, C)``, models work in ``(B, C, T, H, W)`` in [-1, 1]). Every function here takes
an explicit ``layout`` and ``value_range`` and checks the values against that range, so that a video in [-1, 1]
passed as [0, 1] fails loudly instead of silently shifting every score.

Conventions:

* ``layout`` names the axes of a batch of videos: ``"BTCHW"`` (default), ``"BCTHW"`` or ``"BTHWC"``.
* ``value_range``: ``None`` means ``(0, 255)`` for integer tensors and ``(0, 1)`` for float tensors.
* Single-channel videos are repeated to RGB; other channel counts are rejected.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import MetricInputError

__all__ = [
    "VideoLayout",
    "normalize_videos",
    "resize_center_crop",
    "to_uint8",
    "video_frames",
]

VideoLayout = Literal["BTCHW", "BCTHW", "BTHWC"]
_PERMUTE_TO_BTCHW = {"BTCHW": (0, 1, 2, 3, 4), "BCTHW": (0, 2, 1, 3, 4), "BTHWC": (0, 1, 4, 2, 3)}
_RANGE_TOLERANCE = 1e-3


def normalize_videos(
    videos: Tensor,
    layout: VideoLayout = "BTCHW",
    value_range: tuple[float, float] | None = None,
    num_frames: int | None = None,
) -> Tensor:
    """Videos as float32 ``(B, T, 3, H, W)`` in [0, 1], after checking layout, channels and value range.

    Args:
        videos: a batch of videos (a tensor or numpy array) in ``layout``.
        layout: axis order of ``videos`` (module docstring).
        value_range: ``(low, high)`` of the input values; ``None`` = (0, 255) for integers, (0, 1) for floats.
        num_frames: keep only the first ``num_frames`` frames (VideoGPT's temporal crop); videos with fewer
            frames are rejected.
    """
    videos = torch.as_tensor(videos)
    if layout not in _PERMUTE_TO_BTCHW:
        raise MetricInputError(f"layout must be one of {sorted(_PERMUTE_TO_BTCHW)}, got {layout!r}")
    if videos.dim() != 5:
        raise MetricInputError(f"videos must be a 5-D batch in layout {layout}, got shape {tuple(videos.shape)}")
    videos = videos.permute(*_PERMUTE_TO_BTCHW[layout])
    channels = videos.shape[2]
    if channels not in (1, 3):
        raise MetricInputError(
            f"videos must have 1 or 3 channels on the C axis of layout {layout}, got {channels} "
            f"(shape {tuple(videos.shape)} after permuting to BTCHW); is the layout right?"
        )
    if num_frames is not None:
        if videos.shape[1] < num_frames:
            raise MetricInputError(f"num_frames={num_frames} requested but the videos have {videos.shape[1]} frames")
        videos = videos[:, :num_frames]
    low, high = _value_range(videos, value_range)
    videos = videos.to(torch.float32)
    slack = _RANGE_TOLERANCE * (high - low)
    if videos.numel() and (videos.min() < low - slack or videos.max() > high + slack):
        raise MetricInputError(
            f"video values span [{float(videos.min()):.4g}, {float(videos.max()):.4g}], outside the declared "
            f"value_range ({low}, {high}); pass the right value_range (e.g. (-1, 1))"
        )
    videos = ((videos - low) / (high - low)).clamp(0, 1)
    if channels == 1:
        videos = videos.expand(-1, -1, 3, -1, -1)
    return videos


def _value_range(videos: Tensor, value_range: tuple[float, float] | None) -> tuple[float, float]:
    if value_range is None:
        if videos.dtype == torch.bool:
            raise MetricInputError("boolean videos are not supported; convert them to uint8 or float")
        return (0.0, 255.0) if not videos.is_floating_point() else (0.0, 1.0)
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise MetricInputError(f"value_range must be (low, high) with high > low, got {value_range!r}")
    return low, high


def video_frames(videos: Tensor) -> Tensor:
    """Fold the time axis of ``(B, T, C, H, W)`` videos into the batch: ``(B·T, C, H, W)`` frames."""
    return videos.reshape(-1, *videos.shape[2:])


def resize_center_crop(images: Tensor, resolution: int, mode: str = "bilinear", antialias: bool = False) -> Tensor:
    """Resize ``(N, C, H, W)`` so the shorter side is ``resolution``, then crop the centre square.

    This is VideoGPT's FVD preprocessing (bilinear, ``align_corners=False``, no antialias, the longer side
    rounded up); ``mode``/``antialias`` select other filters (CLIP uses antialiased bicubic). Frames that
    already are ``resolution × resolution`` are returned unchanged.
    """
    height, width = images.shape[-2:]
    if (height, width) == (resolution, resolution):
        return images
    scale = resolution / min(height, width)
    if height <= width:
        size = (resolution, max(resolution, _ceil(width * scale)))
    else:
        size = (max(resolution, _ceil(height * scale)), resolution)
    images = F.interpolate(images, size=size, mode=mode, align_corners=False, antialias=antialias)
    top, left = (images.shape[-2] - resolution) // 2, (images.shape[-1] - resolution) // 2
    return images[..., top : top + resolution, left : left + resolution]


def _ceil(value: float) -> int:
    # Round up like math.ceil, but forgive float noise (224 / 3 * 3 must stay 224, not become 225).
    return int(-(-round(value * 1e6) // 1_000_000))


def to_uint8(images: Tensor) -> Tensor:
    """Quantise values in [0, 1] to uint8 [0, 255] (round to nearest), as image metrics expect."""
    return (images * 255).round().clamp(0, 255).to(torch.uint8)
