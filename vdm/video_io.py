"""Video files in and out: MP4 (PyAV / libx264) and GIF (imageio / Pillow), plus a strip picture for people.

* :func:`write_video` / :func:`read_video`: ``.mp4`` (H.264; ``lossless=True`` writes ``libx264rgb`` at
  ``crf 0``, which reads back bit-exact), ``.gif`` (exact for videos of at most 256 colours per frame,
  such as the procedural world's), read back as ``(F, H, W, 3)`` uint8 arrays.
* :func:`to_uint8_frames` / :func:`to_float_frames`: accept what models and datasets produce: numpy or
  torch, ``(F, H, W, C)`` or ``(F, C, H, W)``, 1/3/4 channels, uint8 or float (``value_range`` says which
  range floats are in, ``(0, 1)`` by default, ``(-1, 1)`` for diffusion outputs).
* :func:`write_strip`: one PNG with the frames in a row (each titled with the events active in it) above
  the DSG timeline drawn by :func:`dsg.draw_timeline`.

Heavy libraries (``av``, ``imageio``, ``PIL``, ``matplotlib``) are imported inside the functions that use them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "VideoFormatError",
    "VideoInfo",
    "probe_video",
    "read_video",
    "to_float_frames",
    "to_uint8_frames",
    "write_strip",
    "write_video",
]

_CHANNELS = (1, 3, 4)


class VideoFormatError(ValueError):
    """An array is not a video this module understands, or a file cannot be written/read as a video."""


def _as_numpy(video: Any) -> np.ndarray:
    if hasattr(video, "detach"):  # torch.Tensor, without importing torch here
        t = video.detach().cpu()
        if t.dtype.is_floating_point and t.dtype != getattr(t.dtype, "float64", None):
            t = t.float()
        return t.numpy()
    return np.asarray(video)


def _channels_last(arr: np.ndarray, layout: str | None) -> np.ndarray:
    if arr.ndim == 3:  # (F, H, W) grey
        arr = arr[..., None]
    if arr.ndim != 4:
        raise VideoFormatError(f"a video must have 4 dimensions (F, H, W, C) or (F, C, H, W), got shape {arr.shape}")
    if layout is None:
        last, second = arr.shape[-1] in _CHANNELS, arr.shape[1] in _CHANNELS
        if last and second and arr.shape[-1] != arr.shape[1]:
            layout = "FHWC" if arr.shape[-1] == 3 else "FCHW"
        elif last and second:
            raise VideoFormatError(f"cannot tell the channel axis of shape {arr.shape}; pass layout='FHWC' or 'FCHW'")
        elif last:
            layout = "FHWC"
        elif second:
            layout = "FCHW"
        else:
            raise VideoFormatError(f"no channel axis of size 1, 3 or 4 in shape {arr.shape}")
    if layout == "FCHW":
        arr = arr.transpose(0, 2, 3, 1)
    elif layout != "FHWC":
        raise VideoFormatError(f"layout must be 'FHWC' or 'FCHW', got {layout!r}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.shape[-1] != 3:
        raise VideoFormatError(f"expected 1, 3 or 4 channels, got {arr.shape[-1]} (shape {arr.shape})")
    if 0 in arr.shape:
        raise VideoFormatError(f"empty video of shape {arr.shape}")
    return arr


def to_float_frames(
    video: Any, *, value_range: tuple[float, float] | None = None, layout: str | None = None, clip: bool = True
) -> np.ndarray:
    """A video as ``(F, H, W, 3)`` float32 in ``[0, 1]`` (or around it with ``clip=False``).

    Integer videos are read as 0-255. Float videos are mapped from ``value_range`` (default ``(0, 1)``)
    and clipped unless ``clip=False``. When more than 2 % of the values lie beyond a quarter of the
    range outside it, :class:`VideoFormatError` names the range seen instead of silently clipping a video
    given in another range (noise overshooting the range a little is fine).
    """
    arr = _channels_last(_as_numpy(video), layout)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise VideoFormatError(f"integer video values must be in 0..255, got {arr.min()}..{arr.max()}")
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise VideoFormatError(f"unsupported video dtype {arr.dtype}")
    out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise VideoFormatError("the video contains NaN or infinite values")
    lo, hi = value_range if value_range is not None else (0.0, 1.0)
    if hi <= lo:
        raise VideoFormatError(f"value_range must be (low, high) with low < high, got {value_range}")
    out = (out - lo) / (hi - lo)
    outside = float(np.mean((out < -0.25) | (out > 1.25)))
    if outside > 0.02:
        seen = (float(arr.min()), float(arr.max()))
        hint = " (pass value_range=(-1, 1) for videos in [-1, 1])" if seen[0] < 0 and value_range is None else ""
        raise VideoFormatError(
            f"float video values span {seen}; {100 * outside:.0f} % lie far outside value_range {(lo, hi)}{hint}"
        )
    return np.clip(out, 0.0, 1.0) if clip else out


def to_uint8_frames(
    video: Any, *, value_range: tuple[float, float] | None = None, layout: str | None = None
) -> np.ndarray:
    """A video as ``(F, H, W, 3)`` uint8 (see :func:`to_float_frames` for what is accepted)."""
    arr = _channels_last(_as_numpy(video), layout)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    return np.round(to_float_frames(arr, value_range=value_range, layout="FHWC") * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: frame count, frame rate, size and duration (seconds)."""

    num_frames: int
    fps: float
    width: int
    height: int
    duration: float


def write_video(
    path: str | os.PathLike[str],
    video: Any,
    *,
    fps: float = 8.0,
    lossless: bool = False,
    crf: int = 18,
    value_range: tuple[float, float] | None = None,
    layout: str | None = None,
) -> Path:
    """Write ``video`` to ``path`` (``.mp4`` or ``.gif``, by suffix); returns the path.

    MP4 uses H.264 in yuv420p (yuv444p when a side is odd, which yuv420p cannot hold) at ``crf``;
    ``lossless=True`` uses ``libx264rgb`` at crf 0 and reads back exactly. GIF stores each frame with its
    own palette (exact up to 256 colours) and ``1000 / fps`` ms per frame.
    """
    path = Path(path)
    frames = to_uint8_frames(video, value_range=value_range, layout=layout)
    if fps <= 0:
        raise VideoFormatError(f"fps must be positive, got {fps}")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        import imageio.v3 as iio

        iio.imwrite(path, frames, extension=".gif", duration=round(1000.0 / fps), loop=0)
        return path
    if suffix != ".mp4":
        raise VideoFormatError(f"unsupported video suffix {path.suffix!r} for {path}; use .mp4 or .gif")
    import av

    _, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        if lossless:
            stream = container.add_stream("libx264rgb", rate=rate)
            stream.pix_fmt = "rgb24"
            stream.options = {"crf": "0", "preset": "medium"}
        else:
            stream = container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
            stream.options = {"crf": str(int(crf)), "preset": "medium"}
        stream.width, stream.height = w, h
        for arr in frames:
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def read_video(path: str | os.PathLike[str]) -> np.ndarray:
    """All frames of a video file as ``(F, H, W, 3)`` uint8 (GIF through Pillow, the rest through PyAV).

    Raises:
        FileNotFoundError: no such file.
        VideoFormatError: the file cannot be decoded (the message names the file and the decoder's reason).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no video file at {path}")
    try:
        if path.suffix.lower() == ".gif":
            frames, durations = _read_gif(path)
            unit = _gif_unit(durations)
            return np.stack([f for f, d in zip(frames, durations) for _ in range(max(1, round(d / unit)))])
        import av

        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (OSError, ValueError) as exc:  # av.FFmpegError subclasses OSError / ValueError
        raise VideoFormatError(f"cannot decode video {path}: {exc}") from exc
    if not frames:
        raise VideoFormatError(f"cannot decode video {path}: no video frames")
    return np.stack(frames)


def _read_gif(path: Path) -> tuple[list[np.ndarray], list[int]]:
    """Frames (RGB) and their durations (ms) of a GIF, as stored."""
    from PIL import Image, ImageSequence

    frames, durations = [], []
    with Image.open(path) as img:
        for frame in ImageSequence.Iterator(img):
            frames.append(np.asarray(frame.convert("RGB")))
            durations.append(int(frame.info.get("duration", 100) or 100))
    return frames, durations


def _gif_unit(durations: list[int]) -> float:
    """Duration of one video frame: Pillow stores a run of identical frames once, with the run's total
    duration, so the frame duration is the greatest common divisor of the stored ones."""
    return float(math.gcd(*durations)) if durations else 100.0


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, rate, size and duration of a video file (decoding it if the container does not say)."""
    path = Path(path)
    frames = read_video(path)
    fps = 0.0
    if path.suffix.lower() != ".gif":
        import av

        with av.open(str(path)) as container:
            fps = float(container.streams.video[0].average_rate or 0.0)
    else:
        fps = 1000.0 / _gif_unit(_read_gif(path)[1])
    n, h, w, _ = frames.shape
    return VideoInfo(n, fps, w, h, n / fps if fps else 0.0)


def _active_events(dsg: Any, frame: int) -> list[str]:
    sched = getattr(dsg, "schedule", None)
    if sched is None or getattr(dsg, "time_unit", None) != "frame":
        return []
    return [f"{e.agent}:\n{e.predicate}" + (f" {e.target}" if e.target else "") for e in sched.active(frame)]


def write_strip(
    path: str | os.PathLike[str],
    video: Any,
    dsg: Any = None,
    *,
    title: str | None = None,
    max_frames: int = 16,
    value_range: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Path:
    """Write a PNG for people: the frames side by side, then the DSG timeline under them.

    Args:
        video: any video :func:`to_uint8_frames` accepts.
        dsg: a :class:`dsg.DynamicSceneGraph`; its timeline (:func:`dsg.draw_timeline`) is drawn below the
            frames, and when it is frame-aligned with a schedule each frame is titled with its active events.
        title: figure title (default: the DSG's text).
        max_frames: at most this many frames, evenly spaced, are shown.
    """
    import tempfile

    import imageio.v3 as iio
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frames = to_uint8_frames(video, value_range=value_range)
    n = frames.shape[0]
    idx = sorted(set(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int).tolist()))
    timeline = None
    if dsg is not None:
        from dsg import draw_timeline

        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "timeline.png"
            draw_timeline(dsg, png, title="")
            timeline = np.asarray(iio.imread(png))[..., :3]
    cols = len(idx)
    width = max(1.1 * cols, 6.0)
    tl_height = 0.0 if timeline is None else width * timeline.shape[0] / timeline.shape[1]
    fig = Figure(figsize=(width, 1.9 + tl_height))
    FigureCanvasAgg(fig)
    ratios = [1.9] + ([tl_height] if timeline is not None else [])
    grid = fig.add_gridspec(len(ratios), cols, height_ratios=ratios)
    for k, f in enumerate(idx):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(frames[f], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{f}", fontsize=8)
        acts = _active_events(dsg, f)
        if acts:
            ax.set_xlabel("\n".join(acts), fontsize=5)
    if timeline is not None:
        ax = fig.add_subplot(grid[1, :])
        ax.imshow(timeline)
        ax.axis("off")
    text = title if title is not None else getattr(dsg, "text", None)
    if text:
        fig.suptitle(text, fontsize=8, wrap=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
