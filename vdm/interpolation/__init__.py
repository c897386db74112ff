"""Temporal frame interpolation: 16 keyframes -> 31 -> 61 frames by two ×2 passes (paper §5.1).

>>> import torch
>>> from vdm.interpolation import interpolate
>>> video = torch.rand(16, 3, 64, 64)
>>> interpolate(video, times=2).shape
torch.Size([61, 3, 64, 64])

Interpolators (all :class:`FrameInterpolator`):

* :class:`MotionCompensatedInterpolator` (default): optical flow, forward-splatted trajectories, occlusion-aware
  bidirectional warping, cross-fade fallback where flow is unreliable;
* :class:`LinearBlend`: cross-fade baseline;
* :class:`CallableInterpolator`: any ``(frame0, frame1, t) -> frame_t`` callable or ``nn.Module`` (e.g. a learned
  RIFE/FILM model you load yourself).
"""

from .adapter import CallableInterpolator
from .base import (
    FrameInterpolator,
    PairwiseInterpolator,
    check_video,
    interpolate,
    nominal_range,
    num_interpolated_frames,
)
from .errors import (
    InterpolationError,
    InterpolatorOutputError,
    InvalidVideoError,
    NonFiniteVideoError,
    TooFewFramesError,
    VideoDTypeError,
    VideoShapeError,
)
from .flow import FlowEstimator, PyramidFlowEstimator, warp
from .linear import LinearBlend
from .motion_compensated import MotionCompensatedInterpolator, MotionCompensationDetails

__all__ = [
    "CallableInterpolator",
    "FlowEstimator",
    "FrameInterpolator",
    "InterpolationError",
    "InterpolatorOutputError",
    "InvalidVideoError",
    "LinearBlend",
    "MotionCompensatedInterpolator",
    "MotionCompensationDetails",
    "NonFiniteVideoError",
    "PairwiseInterpolator",
    "PyramidFlowEstimator",
    "TooFewFramesError",
    "VideoDTypeError",
    "VideoShapeError",
    "check_video",
    "interpolate",
    "nominal_range",
    "num_interpolated_frames",
    "warp",
]
