"""Training data sources: deterministic batches of (video, caption, DSG), indexable by step for exact resume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from dsg import DSGVocab, DynamicSceneGraph

__all__ = ["VideoBatch", "VideoBatchSource"]


@dataclass
class VideoBatch:
    """``video``: ``(B, F, 3, H, W)`` float in [-1, 1]; one caption and one (frame-aligned) gold DSG per video
    (``None``: no DSG for that video, it trains as a dropped condition).

    Sources of cached latents (:class:`~vdm.training.latent_cache.LatentSource`) give ``latents``
    ``(B, C, F, h, w)`` (already scaled by the VAE's ``scaling_factor``) and ``video=None``: the trainer then
    loads no VAE at all.
    """

    video: torch.Tensor | None
    captions: list[str]
    dsgs: list[DynamicSceneGraph | None]
    latents: torch.Tensor | None = None


@runtime_checkable
class VideoBatchSource(Protocol):
    """Where training batches come from. ``batch(i, n)`` must be deterministic in ``i`` (resume replays it)."""

    def batch(self, index: int, batch_size: int) -> VideoBatch: ...

    def vocab(self) -> DSGVocab:
        """A frozen vocabulary covering every label the source can produce."""
        ...
