import numpy as np
import pytest
import torch

from vdm.data import ClipSampling, VideoDecodeError, read_clip


def test_sixteen_keyframes_evenly_from_a_two_second_clip(tmp_path, make_video, frame_indices):
    path = make_video(tmp_path / "v.mp4", seconds=3.0, fps=10)
    clip = read_clip(path, ClipSampling(size=None))
    assert clip.shape == (16, 3, 32, 48) and clip.dtype == torch.uint8
    # the clip is centred: [0.5 s, 2.5 s); keyframe k is the frame on screen at 0.5 + k / 8 s
    expected = [int(np.floor((0.5 + k / 8) * 10 + 1e-9)) for k in range(16)]
    assert frame_indices(clip) == expected


def test_resize_and_centre_crop(tmp_path, make_video):
    path = make_video(tmp_path / "v.mp4", width=64, height=32)
    assert read_clip(path).shape == (16, 3, 256, 256)
    assert read_clip(path, ClipSampling(num_frames=4, size=16)).shape == (4, 3, 16, 16)


def test_window_start_and_random_positions(tmp_path, make_video, frame_indices):
    path = make_video(tmp_path / "v.mp4", seconds=3.0, fps=10)
    start = read_clip(path, ClipSampling(num_frames=4, size=None, position="start"))
    assert frame_indices(start) == [0, 5, 10, 15]
    win = read_clip(path, ClipSampling(num_frames=2, clip_seconds=1.0, size=None), window=(1.0, 2.0))
    assert frame_indices(win) == [10, 15]
    rng = np.random.default_rng(0)
    rand = frame_indices(read_clip(path, ClipSampling(num_frames=4, size=None, position="random"), rng=rng))
    assert 0 <= rand[0] <= 10 and rand == sorted(rand)
    whole = read_clip(path, ClipSampling(num_frames=3, clip_seconds=None, size=None))
    assert frame_indices(whole) == [0, 10, 20]


def test_short_video_repeats_its_last_frame(tmp_path, make_video, frame_indices):
    path = make_video(tmp_path / "short.mp4", seconds=0.5, fps=10)
    idx = frame_indices(read_clip(path, ClipSampling(size=None)))
    assert idx[0] == 0 and idx[-1] == 4 and idx == sorted(idx) and len(idx) == 16


def test_missing_and_corrupt_files_name_the_file(tmp_path, corrupt_file):
    with pytest.raises(VideoDecodeError, match="nope.mp4") as err:
        read_clip(tmp_path / "nope.mp4")
    assert err.value.reason == "no such file"
    with pytest.raises(VideoDecodeError, match="corrupt.mp4"):
        read_clip(corrupt_file)
    with pytest.raises(ValueError):
        ClipSampling(position="middle")
