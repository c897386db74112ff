"""The frame-interpolator interface and the ×2-applied-``times`` driver (paper §5.1).

Dysen-VDM samples 16 keyframes from a two-second clip and "interpolates them twice with higher frame rates"
(paper §5.1, Fig. 2 "Frame Interpolation"). We read "twice" as two successive ×2 passes, each inserting one frame
between every pair of neighbours: ``F -> 2F - 1``, so 16 keyframes become 31, then 61 frames. (The paper does not
give the factor; ×2 twice is what its "twice with higher frame rates" and the VideoLDM-style interpolation it builds
on describe, and it keeps every keyframe at its original position.)

A *frame interpolator* is anything with ``__call__(video) -> video`` doing one ×2 pass (:class:`FrameInterpolator`).
Most interpolators only know how to make the frame between two neighbours; :class:`PairwiseInterpolator` turns such a
``interpolate_pairs(frame0, frame1, t)`` into a full-video pass: it validates the input, maps it to a nominal [0, 1]
range, batches all neighbour pairs of all videos (in chunks, to bound memory), interleaves the new frames with the
untouched originals and restores the input's dtype and range.
"""

from __future__ import annotations

import abc
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from .errors import InterpolatorOutputError, NonFiniteVideoError, TooFewFramesError, VideoDTypeError, VideoShapeError

__all__ = [
    "FrameInterpolator",
    "PairwiseInterpolator",
    "check_video",
    "interpolate",
    "nominal_range",
    "num_interpolated_frames",
]


@runtime_checkable
class FrameInterpolator(Protocol):
    """One ×2 temporal up-sampling pass.

    ``__call__`` takes a video ``(F, C, H, W)`` or a batch of videos ``(B, F, C, H, W)``, floating point (in [0, 1]
    or [-1, 1]) or ``uint8``, and returns ``2F - 1`` frames of the same dtype and range: the input frames at the even
    positions, unchanged, and one new frame between each pair of neighbours at the odd positions.
    """

    def __call__(self, video: Tensor) -> Tensor: ...


def num_interpolated_frames(num_frames: int, times: int = 2) -> int:
    """Frame count after ``times`` ×2 passes: ``(F - 1) * 2**times + 1`` (16 keyframes, twice -> 61)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if times < 0:
        raise ValueError(f"times must be >= 0, got {times}")
    return (num_frames - 1) * 2**times + 1


def check_video(video: object) -> Tensor:
    """Validate a video tensor for interpolation and return it; raise a typed error naming the problem.

    Raises:
        VideoDTypeError: not a tensor, or dtype neither floating point nor ``uint8``.
        VideoShapeError: not 4-D ``(F, C, H, W)`` / 5-D ``(B, F, C, H, W)``, or an empty axis.
        TooFewFramesError: fewer than two frames.
        NonFiniteVideoError: NaN or ±inf values (names how many and the first (video, frame) holding one).
    """
    if not isinstance(video, Tensor):
        raise VideoDTypeError(f"video must be a torch.Tensor, got {type(video).__name__}")
    if not (video.dtype.is_floating_point or video.dtype == torch.uint8):
        raise VideoDTypeError(f"video dtype must be floating point or torch.uint8, got {video.dtype}")
    if video.ndim not in (4, 5):
        raise VideoShapeError(
            f"video must have 4 dims (F, C, H, W) or 5 dims (B, F, C, H, W), got {video.ndim} dims "
            f"with shape {tuple(video.shape)}"
        )
    if any(size == 0 for size in video.shape):
        raise VideoShapeError(f"video has an empty axis: shape {tuple(video.shape)}")
    num_frames = video.shape[-4]
    if num_frames < 2:
        raise TooFewFramesError(
            f"interpolation needs at least 2 frames, got {num_frames} (shape {tuple(video.shape)}; "
            "frames are axis -4 of (F, C, H, W) / (B, F, C, H, W))"
        )
    if video.dtype.is_floating_point:
        bad = ~torch.isfinite(video)
        if bool(bad.any()):
            per_frame = bad.reshape(-1, num_frames, *video.shape[-3:]).flatten(2).any(-1)  # (B, F)
            b, f = (int(i) for i in per_frame.nonzero()[0])
            where = f"frame {f}" if video.ndim == 4 else f"video {b}, frame {f}"
            raise NonFiniteVideoError(f"video holds {int(bad.sum())} non-finite values (NaN/inf), first in {where}")
    return video


def nominal_range(video: Tensor) -> tuple[float, float]:
    """The value range a video is taken to live in: ``uint8`` -> [0, 255]; float with a negative value -> [-1, 1];
    other float -> [0, 1].

    Interpolators see frames mapped to [0, 1] by this range so that their photometric thresholds do not depend on the
    caller's convention. Values outside the nominal range still work (the mapping is affine and undone exactly).
    """
    if video.dtype == torch.uint8:
        return 0.0, 255.0
    return (-1.0, 1.0) if bool((video < 0).any()) else (0.0, 1.0)


class PairwiseInterpolator(abc.ABC):
    """Base class: a ×2 pass built from a batched ``frame0, frame1 -> frame_t`` rule.

    Subclasses implement :meth:`interpolate_pairs`. Everything else (validation, dtype and range handling, batching
    over videos and pairs, keeping the original frames bit-exact at the even positions) lives here.

    Args:
        pairs_per_chunk: how many neighbour pairs go through :meth:`interpolate_pairs` at once; ``None`` picks as
            many as fit in :attr:`pixels_per_chunk` pixels (bounds peak memory at large resolutions, keeps small
            frames in big batches). Results do not depend on it.
    """

    #: pixel budget of one chunk when ``pairs_per_chunk`` is ``None`` (about 64 MiB per float32 RGB map)
    pixels_per_chunk: int = 2**22

    def __init__(self, pairs_per_chunk: int | None = None) -> None:
        if pairs_per_chunk is not None and pairs_per_chunk < 1:
            raise ValueError(f"pairs_per_chunk must be >= 1 or None, got {pairs_per_chunk}")
        self.pairs_per_chunk = pairs_per_chunk

    @abc.abstractmethod
    def interpolate_pairs(self, frame0: Tensor, frame1: Tensor, t: float = 0.5) -> Tensor:
        """Frames at time ``t`` in (0, 1) between ``frame0`` (t=0) and ``frame1`` (t=1).

        Args:
            frame0, frame1: ``(N, C, H, W)`` float tensors, nominally in [0, 1].

        Returns:
            ``(N, C, H, W)`` float tensor of the same dtype.
        """

    @torch.no_grad()
    def __call__(self, video: Tensor) -> Tensor:
        check_video(video)
        batched = video.ndim == 5
        clips = video if batched else video.unsqueeze(0)
        b, f, c, h, w = clips.shape
        lo, hi = nominal_range(video)
        compute_dtype = torch.float64 if video.dtype == torch.float64 else torch.float32
        unit = (clips.to(compute_dtype) - lo) / (hi - lo)

        frame0 = unit[:, :-1].reshape(-1, c, h, w)
        frame1 = unit[:, 1:].reshape(-1, c, h, w)
        chunk = self.pairs_per_chunk or max(1, self.pixels_per_chunk // (h * w))
        chunks = []
        for start in range(0, frame0.shape[0], chunk):
            end = start + chunk
            mid = self.interpolate_pairs(frame0[start:end], frame1[start:end], 0.5)
            if not isinstance(mid, Tensor) or mid.shape != frame0[start:end].shape:
                got = tuple(mid.shape) if isinstance(mid, Tensor) else type(mid).__name__
                raise InterpolatorOutputError(
                    f"{type(self).__name__}.interpolate_pairs returned {got}, expected {tuple(frame0[start:end].shape)}"
                )
            chunks.append(mid.to(compute_dtype))
        mids = torch.cat(chunks).reshape(b, f - 1, c, h, w) * (hi - lo) + lo

        # never leave the range of the input video (learned models may overshoot; the classical methods here are
        # convex combinations of input samples and stay inside it up to rounding)
        lo_seen = clips.amin(dim=(1, 2, 3, 4)).to(compute_dtype).view(b, 1, 1, 1, 1)
        hi_seen = clips.amax(dim=(1, 2, 3, 4)).to(compute_dtype).view(b, 1, 1, 1, 1)
        mids = torch.minimum(torch.maximum(mids, lo_seen), hi_seen)
        if video.dtype == torch.uint8:
            mids = mids.round()

        out = clips.new_empty((b, 2 * f - 1, c, h, w))
        out[:, 0::2] = clips
        out[:, 1::2] = mids.to(video.dtype)
        return out if batched else out[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pairs_per_chunk={self.pairs_per_chunk})"


def interpolate(video: Tensor, times: int = 2, interpolator: FrameInterpolator | None = None) -> Tensor:
    """Apply a ×2 frame interpolator ``times`` times (paper §5.1: 16 keyframes -> 31 -> 61 frames).

    Args:
        video: ``(F, C, H, W)`` or ``(B, F, C, H, W)``, float in [0, 1] / [-1, 1] or ``uint8``.
        times: number of ×2 passes (``0`` returns the validated input itself).
        interpolator: any :class:`FrameInterpolator`; default
            :class:`~vdm.interpolation.MotionCompensatedInterpolator`.

    Returns:
        ``(F - 1) * 2**times + 1`` frames, same dtype, range and leading batch axis as ``video``; the input frames sit
        unchanged at every ``2**times``-th position.
    """
    check_video(video)
    if isinstance(times, bool) or not isinstance(times, int) or times < 0:
        raise ValueError(f"times must be a non-negative int, got {times!r}")
    if interpolator is None:
        from .motion_compensated import MotionCompensatedInterpolator

        interpolator = MotionCompensatedInterpolator()
    expected = num_interpolated_frames(video.shape[-4], 1)
    for _ in range(times):
        result = interpolator(video)
        want = (*video.shape[:-4], expected, *video.shape[-3:])
        if not isinstance(result, Tensor) or tuple(result.shape) != want:
            got = tuple(result.shape) if isinstance(result, Tensor) else type(result).__name__
            raise InterpolatorOutputError(
                f"{type(interpolator).__name__} returned {got} for input {tuple(video.shape)}; a ×2 pass must return "
                f"{want} (2F - 1 frames)"
            )
        video = result
        expected = num_interpolated_frames(video.shape[-4], 1)
    return video
