import numpy as np
import pytest
import torch

from vdm.video_io import (
    VideoFormatError,
    probe_video,
    read_video,
    to_float_frames,
    to_uint8_frames,
    write_strip,
    write_video,
)
from vdm.world import World, WorldConfig


@pytest.fixture(scope="module")
def sample():
    return World(WorldConfig(height=32, width=32), 4).sample(1)


def test_mp4_round_trip(tmp_path, sample):
    frames = to_uint8_frames(sample.video)
    exact = read_video(write_video(tmp_path / "exact.mp4", sample.video, lossless=True))
    assert np.array_equal(exact, frames)
    lossy = read_video(write_video(tmp_path / "lossy.mp4", sample.video, fps=8))
    assert lossy.shape == frames.shape
    assert np.abs(lossy.astype(int) - frames).mean() < 6
    info = probe_video(tmp_path / "lossy.mp4")
    assert (info.num_frames, info.width, info.height) == (16, 32, 32) and info.fps == pytest.approx(8.0)
    odd = np.random.default_rng(0).integers(0, 255, (3, 15, 17, 3), dtype=np.uint8)  # odd sides: yuv444p
    assert read_video(write_video(tmp_path / "odd.mp4", odd)).shape == (3, 15, 17, 3)


def test_gif_round_trip_is_exact_for_the_world(tmp_path, sample):
    path = write_video(tmp_path / "w.gif", sample.video, fps=4)
    assert np.array_equal(read_video(path), to_uint8_frames(sample.video))
    assert probe_video(path).fps == pytest.approx(4.0)


def test_layouts_ranges_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    fhwc = rng.random((4, 8, 6, 3), dtype=np.float32)
    ref = to_uint8_frames(fhwc)
    assert np.array_equal(to_uint8_frames(torch.from_numpy(fhwc).permute(0, 3, 1, 2)), ref)
    assert np.array_equal(to_uint8_frames(torch.from_numpy(fhwc * 2 - 1), value_range=(-1, 1)), ref)
    assert to_float_frames(np.zeros((2, 5, 5), dtype=np.uint8)).shape == (2, 5, 5, 3)  # grey
    assert to_uint8_frames(np.zeros((2, 5, 5, 4), dtype=np.uint8)).shape == (2, 5, 5, 3)  # RGBA
    with pytest.raises(VideoFormatError, match=r"value_range=\(-1, 1\)"):
        to_float_frames(fhwc * 2 - 1)
    with pytest.raises(VideoFormatError, match="4 dimensions"):
        to_float_frames(np.zeros((5, 5)))
    with pytest.raises(VideoFormatError, match="channel"):
        to_float_frames(np.zeros((2, 5, 5, 7)))
    with pytest.raises(VideoFormatError, match="layout"):
        to_float_frames(np.zeros((2, 3, 5, 3)))  # (F, 3, H, 3): ambiguous
    assert to_float_frames(np.zeros((2, 3, 5, 3)), layout="FCHW").shape == (2, 5, 3, 3)
    with pytest.raises(VideoFormatError, match="suffix"):
        write_video(tmp_path / "x.avi", fhwc)
    with pytest.raises(FileNotFoundError):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(VideoFormatError, match="bad.mp4"):
        read_video(tmp_path / "bad.mp4")


def test_strip_with_the_dsg_timeline(tmp_path, sample):
    import imageio.v3 as iio

    path = write_strip(tmp_path / "strip.png", sample.video, sample.dsg)
    img = iio.imread(path)
    assert img.ndim == 3 and img.shape[1] > img.shape[0] > 150  # frames row + timeline under it
    plain = iio.imread(write_strip(tmp_path / "frames.png", sample.video, title="frames only", max_frames=4))
    assert plain.shape[0] < img.shape[0]
