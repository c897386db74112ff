"""I3D for FVD: VideoGPT-compatible parameters, loaders (state dict, safetensors, TorchScript), preprocessing."""

from __future__ import annotations

import pytest
import torch

from vdm.metrics import (
    I3D_MIN_FRAMES,
    I3DDetector,
    I3DFeatureExtractor,
    InceptionI3d,
    MetricInputError,
    WeightsFormatError,
    WeightsNotFoundError,
    export_i3d_torchscript,
    load_i3d,
)


@pytest.fixture(scope="module")
def videos():
    """Two uint8 videos (B, T, H, W, C), 9 frames of 20×24 pixels (resized to 224 by the preprocessing)."""
    return torch.randint(0, 256, (2, I3D_MIN_FRAMES, 20, 24, 3), generator=torch.Generator().manual_seed(0)).to(
        torch.uint8
    )


def test_parameter_names_and_shapes_match_the_kinetics_checkpoint():
    # Names and shapes of piergiaj/pytorch-i3d's InceptionI3d, as stored in VideoGPT's i3d_pretrained_400.pt.
    state = InceptionI3d().state_dict()
    expected = {
        "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
        "Conv3d_1a_7x7.bn.running_var": (64,),
        "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
        "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1),
        "Mixed_4c.b1b.conv3d.weight": (224, 112, 3, 3, 3),
        "Mixed_5c.b3b.bn.bias": (128,),
        "logits.conv3d.weight": (400, 1024, 1, 1, 1),
        "logits.conv3d.bias": (400,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(key.startswith("logits.bn") for key in state)
    assert sum(1 for key in state if key.endswith("conv3d.weight")) == 1 + 2 + 9 * 6 + 1


def test_from_state_dict_infers_width_and_accepts_wrappers(tiny_i3d):
    state = tiny_i3d.state_dict()
    for wrapped in (state, {f"module.{k}": v for k, v in state.items()}):
        rebuilt = InceptionI3d.from_state_dict(wrapped)
        assert rebuilt.width_divisor == 32 and rebuilt.num_classes == 12
        for key, value in rebuilt.state_dict().items():
            assert torch.equal(value, state[key]), key


def test_loaders_give_identical_features(tiny_i3d, videos, tmp_path):
    from safetensors.torch import save_file

    torch.save(tiny_i3d.state_dict(), tmp_path / "i3d_pretrained.pt")
    torch.save({"state_dict": tiny_i3d.state_dict()}, tmp_path / "checkpoint.pt")
    save_file(tiny_i3d.state_dict(), str(tmp_path / "i3d.safetensors"))
    export_i3d_torchscript(tiny_i3d, tmp_path / "i3d_torchscript.pt")

    direct = I3DFeatureExtractor(tiny_i3d, layout="BTHWC")(videos)
    assert direct.shape == (2, 12)
    wrapped = load_i3d(tmp_path / "checkpoint.pt")  # {"state_dict": ...} checkpoints are unwrapped
    assert all(torch.equal(v, tiny_i3d.state_dict()[k]) for k, v in wrapped.state_dict().items())
    for name in ("i3d_pretrained.pt", "i3d.safetensors"):
        loaded = load_i3d(tmp_path / name)
        assert isinstance(loaded, InceptionI3d) and not loaded.training
        assert torch.equal(I3DFeatureExtractor(loaded, layout="BTHWC")(videos), direct), name
    detector = load_i3d(tmp_path / "i3d_torchscript.pt")
    assert isinstance(detector, torch.jit.ScriptModule)
    extractor = I3DFeatureExtractor(detector, layout="BTHWC", batch_size=1)
    assert extractor.detector_kwargs == dict(rescale=False, resize=False, return_features=True)
    torch.testing.assert_close(extractor(videos), direct, rtol=1e-5, atol=1e-5)


def test_torchscript_detector_flags(tiny_i3d, tmp_path):
    export_i3d_torchscript(tiny_i3d, tmp_path / "d.pt")
    detector = load_i3d(tmp_path / "d.pt")
    clip = torch.randint(0, 256, (1, 3, I3D_MIN_FRAMES, 112, 112), generator=torch.Generator().manual_seed(1)).float()
    scaled = torch.nn.functional.interpolate(clip / 127.5 - 1, size=(I3D_MIN_FRAMES, 224, 224), mode="trilinear")
    with torch.no_grad():
        logits = tiny_i3d(scaled)
        torch.testing.assert_close(detector(clip, rescale=True, resize=True, return_features=True), logits)
        torch.testing.assert_close(detector(scaled), logits.softmax(dim=1))


def test_stylegan_v_protocol_resizes_in_the_detector(tiny_i3d):
    # Square frames: the detector's trilinear resize (T kept) equals our per-frame bilinear resize, and its
    # [0, 255] → [-1, 1] rescale equals ours, so both protocols give the same features.
    detector = I3DDetector(tiny_i3d)
    videos = torch.randint(0, 256, (1, I3D_MIN_FRAMES, 3, 112, 112), generator=torch.Generator().manual_seed(3))
    videos = videos.to(torch.uint8)
    inside = I3DFeatureExtractor(detector, protocol="stylegan-v")
    assert inside.detector_kwargs == dict(rescale=True, resize=True, return_features=True)
    clip = inside.preprocess(videos)
    assert clip.shape == (1, 3, I3D_MIN_FRAMES, 112, 112) and clip.max() > 200
    torch.testing.assert_close(inside(videos), I3DFeatureExtractor(detector)(videos), rtol=1e-4, atol=1e-4)
    with pytest.raises(MetricInputError, match="rescale/resize flags"):
        I3DFeatureExtractor(tiny_i3d, protocol="stylegan-v")


def test_preprocessing_shape_range_and_layouts(tiny_i3d, videos):
    extractor = I3DFeatureExtractor(tiny_i3d, layout="BTHWC")
    clip = extractor.preprocess(videos)
    assert clip.shape == (2, 3, I3D_MIN_FRAMES, 224, 224) and clip.dtype == torch.float32
    assert clip.min() >= -1 and clip.max() <= 1 and clip.min() < -0.9 and clip.max() > 0.9
    as_float = videos.permute(0, 1, 4, 2, 3).float() / 255  # BTCHW in [0, 1]
    torch.testing.assert_close(I3DFeatureExtractor(tiny_i3d).preprocess(as_float), clip)
    in_pm1 = as_float.permute(0, 2, 1, 3, 4) * 2 - 1  # BCTHW in [-1, 1]
    other = I3DFeatureExtractor(tiny_i3d, layout="BCTHW", value_range=(-1, 1)).preprocess(in_pm1)
    torch.testing.assert_close(other, clip)


def test_preprocessing_centre_crops_non_square_frames(tiny_i3d):
    # A 10×30 frame: left third 0, middle third 1, right third 0 → after shorter-side resize and centre crop the
    # 224×224 output is the middle third only: all values 1 → +1 after mapping to [-1, 1].
    video = torch.zeros(1, I3D_MIN_FRAMES, 3, 10, 30)
    video[..., 10:20] = 1.0
    clip = I3DFeatureExtractor(tiny_i3d).preprocess(video)
    assert clip.shape[-2:] == (224, 224)
    assert clip[..., :, 24:-24].min() > 0.99  # interior (bilinear blends one source pixel = 22.4 px at the edges)
    assert clip.mean() > 0.9


def test_num_frames_and_input_errors(tiny_i3d, videos):
    long = torch.rand(1, 20, 3, 8, 8)
    assert I3DFeatureExtractor(tiny_i3d, num_frames=16).preprocess(long).shape[2] == 16
    with pytest.raises(MetricInputError, match="num_frames=32"):
        I3DFeatureExtractor(tiny_i3d, num_frames=32).preprocess(long)
    with pytest.raises(MetricInputError, match="at least 9 frames"):
        I3DFeatureExtractor(tiny_i3d).preprocess(torch.rand(1, 8, 3, 8, 8))
    with pytest.raises(MetricInputError, match="value_range"):
        I3DFeatureExtractor(tiny_i3d).preprocess(torch.rand(1, 9, 3, 8, 8) * 2 - 1)  # [-1, 1] read as [0, 1]
    with pytest.raises(MetricInputError, match="channels"):
        I3DFeatureExtractor(tiny_i3d).preprocess(videos)  # BTHWC read as BTCHW


def test_loader_errors(tmp_path):
    with pytest.raises(WeightsNotFoundError):
        load_i3d(tmp_path / "missing.pt")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(WeightsFormatError, match="not an InceptionI3d state dict"):
        load_i3d(tmp_path / "other.pt")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "pickled_module.pt")  # a pickled object, not a state dict
    with pytest.raises(WeightsFormatError, match="weights-only"):
        load_i3d(tmp_path / "pickled_module.pt")
    with pytest.raises(WeightsFormatError, match="SHA-256"):
        load_i3d(tmp_path / "other.pt", sha256="0" * 64)
    bad = InceptionI3d(num_classes=5, width_divisor=64).state_dict()
    bad["Mixed_3b.b0.conv3d.weight"] = torch.zeros(1, 1, 3, 1, 1)
    with pytest.raises(WeightsFormatError, match="does not fit"):
        InceptionI3d.from_state_dict(bad)
