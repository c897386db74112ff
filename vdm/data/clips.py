"""Decode clips with PyAV the way the paper samples them: 16 keyframes evenly from a 2-second clip,
resized (shorter side) and centre-cropped to 256×256 (§5.1: "we sample 16 keyframes from a two-second
clip ... 256×256")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import VideoDecodeError

__all__ = ["ClipSampling", "read_clip"]


@dataclass(frozen=True)
class ClipSampling:
    """Which frames of a video make a sample, and at which size.

    Args:
        num_frames: keyframes per clip.
        clip_seconds: length of the clip they are taken from, evenly (``None``: the whole window).
        size: shorter side after resizing, and side of the centre crop (``None``: keep the frames as
            decoded).
        position: where the clip sits in its window when the window is longer: ``"center"``,
            ``"start"`` or ``"random"``.
    """

    num_frames: int = 16
    clip_seconds: float | None = 2.0
    size: int | None = 256
    position: str = "center"

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.clip_seconds is not None and self.clip_seconds <= 0:
            raise ValueError(f"clip_seconds must be positive or None, got {self.clip_seconds}")
        if self.size is not None and self.size < 1:
            raise ValueError(f"size must be >= 1 or None, got {self.size}")
        if self.position not in ("center", "start", "random"):
            raise ValueError(f"position must be 'center', 'start' or 'random', got {self.position!r}")


def _seconds(value: object, base: object) -> float | None:
    return None if value is None or base is None else float(value * base)  # type: ignore[operator]


def read_clip(
    path: str | os.PathLike[str],
    sampling: ClipSampling | None = None,
    *,
    window: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> torch.Tensor:
    """Decode ``sampling.num_frames`` frames of ``path`` as a ``(F, 3, S, S)`` uint8 tensor.

    Frame ``k`` is the frame on screen at ``t0 + k * clip_seconds / F`` (``t0`` the clip start inside
    ``window``, seconds from the video start; default the whole video). A video shorter than the clip
    repeats its last frame. Raises :class:`~vdm.data.errors.VideoDecodeError` naming the file when it
    is missing, not a video, or has no frames.
    """
    import av

    sampling = sampling or ClipSampling()
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(path, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            offset = _seconds(stream.start_time, stream.time_base) or 0.0
            duration = _seconds(stream.duration, stream.time_base)
            if duration is None and container.duration is not None:
                duration = container.duration / 1_000_000
            lo, hi = window if window is not None else (0.0, duration if duration is not None else 0.0)
            if duration is not None:
                lo, hi = max(0.0, min(lo, duration)), max(0.0, min(hi, duration))
            length = sampling.clip_seconds if sampling.clip_seconds is not None else max(hi - lo, 0.0)
            slack = max(0.0, hi - lo - length)
            if sampling.position == "center":
                t0 = lo + slack / 2
            elif sampling.position == "random":
                t0 = lo + float((rng or np.random.default_rng()).uniform(0.0, slack)) if slack else lo
            else:
                t0 = lo
            times = t0 + length * np.arange(sampling.num_frames) / sampling.num_frames
            if t0 > 0:
                container.seek(int((t0 + offset) / stream.time_base), stream=stream, backward=True, any_frame=False)
            picked: list[object] = [None] * len(times)
            j, prev = 0, None
            for frame in container.decode(stream):
                t = (frame.time if frame.time is not None else 0.0) - offset
                while j < len(times) and times[j] < t - 1e-6:
                    picked[j] = prev if prev is not None else frame
                    j += 1
                if j >= len(times):
                    break
                prev = frame
            if prev is None and picked[0] is None:
                raise VideoDecodeError(path, "no decodable video frames")
            while j < len(times):
                picked[j] = prev
                j += 1
            arrays: dict[int, np.ndarray] = {}
            out = []
            for frame in picked:
                key = id(frame)
                if key not in arrays:
                    arrays[key] = _to_array(frame, sampling.size)
                out.append(arrays[key])
    except VideoDecodeError:
        raise
    except (OSError, ValueError, IndexError, RuntimeError) as exc:  # av.FFmpegError subclasses OSError/ValueError
        raise VideoDecodeError(path, f"{type(exc).__name__}: {exc}") from exc
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def _to_array(frame: object, size: int | None) -> np.ndarray:
    """RGB array of a frame: shorter side resized to ``size`` (area filter), then centre-cropped."""
    w, h = frame.width, frame.height  # type: ignore[attr-defined]
    if size is None:
        return frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    arr = frame.to_ndarray(format="rgb24", width=nw, height=nh, interpolation="AREA")  # type: ignore[attr-defined]
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(arr[top : top + size, left : left + size])
