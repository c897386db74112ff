"""Typed errors of :mod:`vdm.interpolation`.

Every error names what was wrong (the shape, the dtype, the frame holding a NaN, ...) so that a bad tensor
deep inside a pipeline can be traced at once.
"""

from __future__ import annotations

__all__ = [
    "InterpolationError",
    "InterpolatorOutputError",
    "InvalidVideoError",
    "NonFiniteVideoError",
    "TooFewFramesError",
    "VideoDTypeError",
    "VideoShapeError",
]


class InterpolationError(Exception):
    """Base class of every error raised by :mod:`vdm.interpolation`."""


class InvalidVideoError(InterpolationError, ValueError):
    """The video handed to an interpolator is not a usable ``(F, C, H, W)`` / ``(B, F, C, H, W)`` tensor."""


class VideoShapeError(InvalidVideoError):
    """The video has the wrong number of dimensions or an empty axis."""


class TooFewFramesError(VideoShapeError):
    """Interpolation needs at least two frames (one pair)."""


class VideoDTypeError(InvalidVideoError, TypeError):
    """The video is not a tensor, or its dtype is neither floating point nor ``uint8``."""


class NonFiniteVideoError(InvalidVideoError):
    """The video holds NaN or infinite values."""


class InterpolatorOutputError(InterpolationError, RuntimeError):
    """A user-supplied interpolation model returned something that is not a valid frame batch."""
