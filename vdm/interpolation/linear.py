"""Cross-fade baseline: the new frame is the average of its two neighbours."""

from __future__ import annotations

from torch import Tensor

from .base import PairwiseInterpolator

__all__ = ["LinearBlend"]


class LinearBlend(PairwiseInterpolator):
    """``frame_t = (1 - t) * frame0 + t * frame1`` (a cross-fade; no motion model).

    Exact on static content and on global brightness ramps; anything that moves appears twice at half opacity
    ("ghosting"). Kept as the baseline that :class:`~vdm.interpolation.MotionCompensatedInterpolator` is measured
    against, and as that method's per-pixel fallback where flow is unreliable.
    """

    def interpolate_pairs(self, frame0: Tensor, frame1: Tensor, t: float = 0.5) -> Tensor:
        return frame0.lerp(frame1, t)
