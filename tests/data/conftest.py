"""Tiny video files made with PyAV for the loader tests: frame ``i`` is uniformly grey at level ``8 i``,
so the index of every decoded frame can be read back from its colour."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def write_video(path: Path, *, seconds: float = 3.0, fps: int = 10, width: int = 48, height: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "mpeg4" if path.suffix == ".avi" else "libx264"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "1"}
        else:
            stream.options = {"qscale": "1"}
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 8 * i, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def frame_indices(video) -> list[int]:
    """The frame index each decoded frame shows (mean grey level / 8)."""
    return [round(float(f.float().mean()) / 8) for f in video]


@pytest.fixture
def make_video():
    return write_video


@pytest.fixture(name="frame_indices")
def frame_indices_fixture():
    return frame_indices


@pytest.fixture
def corrupt_file(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return path
