"""Image features for FID (per frame) and IS: TorchScript detector convention, input formats, torch-fidelity glue."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

from vdm.metrics import (
    FeatureDistance,
    ImageFeatureExtractor,
    MetricInputError,
    MissingDependencyError,
    WeightsFormatError,
    load_inception,
    torch_fidelity_inception,
)


class TinyDetector(nn.Module):
    """Stand-in for StyleGAN2-ADA's Inception: uint8 NCHW in, resizes itself, features or probabilities out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, kernel_size=3)

    def forward(self, images: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert images.dtype == torch.uint8
        x = nn.functional.interpolate(images.float() / 127.5 - 1, size=[16, 16], mode="bilinear")
        features = torch.tanh(self.conv(x)).mean(dim=[2, 3])
        return features if return_features else features.softmax(dim=1)


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(TinyDetector().eval()), str(path))
    return path


def test_torchscript_detector_round_trip_and_calling_convention(detector_file):
    extractor = ImageFeatureExtractor.from_file(detector_file)
    assert extractor.network_kwargs == {"return_features": True}
    images = torch.randint(0, 256, (6, 3, 24, 20), dtype=torch.uint8)
    expected = torch.jit.load(str(detector_file))(images, return_features=True)
    torch.testing.assert_close(extractor(images), expected)


def test_per_frame_features_of_videos(detector_file):
    extractor_videos = ImageFeatureExtractor.from_file(detector_file, layout="BTCHW", batch_size=4)
    extractor_images = ImageFeatureExtractor.from_file(detector_file, layout="NHWC")
    videos = torch.rand(3, 5, 3, 12, 12)
    frames_nhwc = videos.reshape(15, 3, 12, 12).permute(0, 2, 3, 1)
    torch.testing.assert_close(extractor_videos(videos), extractor_images(frames_nhwc))
    assert extractor_videos(videos).shape == (15, 5)


def test_float_input_formats_and_resolution():
    seen = {}

    def network(images):
        seen["images"] = images
        return images.mean(dim=(2, 3))

    images = torch.rand(2, 3, 10, 14)
    ImageFeatureExtractor(network, input_format="float_pm1", resolution=8)(images)
    assert seen["images"].shape == (2, 3, 8, 8) and seen["images"].min() >= -1 and seen["images"].min() < 0
    ImageFeatureExtractor(network, input_format="float01", value_range=(0, 255))(images * 255)
    torch.testing.assert_close(seen["images"], images)


def test_fid_over_frames_of_identical_sets_is_zero(detector_file):
    fid = FeatureDistance(ImageFeatureExtractor.from_file(detector_file, layout="BTCHW"))
    videos = torch.rand(4, 6, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    fid.update(videos, real=True)
    fid.update(videos.flip(0), real=False)
    assert fid.real.count == 24 and abs(fid.frechet()) < 1e-9


def test_load_inception_refuses_state_dicts(tmp_path):
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "weights.pth")
    with pytest.raises(WeightsFormatError, match="torch_fidelity_inception"):
        load_inception(tmp_path / "weights.pth")


def test_bad_arguments():
    with pytest.raises(MetricInputError, match="input_format"):
        ImageFeatureExtractor(lambda x: x, input_format="float")
    with pytest.raises(MetricInputError, match="4-D"):
        ImageFeatureExtractor(lambda x: x)(torch.rand(2, 3, 3, 4, 4))


def test_torch_fidelity_glue(tmp_path, monkeypatch):
    weights = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"stand-in")
    calls = {}

    class FakeExtractor(nn.Module):
        def __init__(self, name, features_list, feature_extractor_weights_path=None):
            super().__init__()
            calls.update(name=name, features=features_list, path=feature_extractor_weights_path)

        def forward(self, images):
            return (images.float().mean(dim=(1, 2, 3))[:, None],)

    module = types.ModuleType("torch_fidelity.feature_extractor_inceptionv3")
    module.FeatureExtractorInceptionV3 = FakeExtractor
    monkeypatch.setitem(sys.modules, "torch_fidelity", types.ModuleType("torch_fidelity"))
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", module)
    network = torch_fidelity_inception(weights, feature="logits_unbiased")
    assert calls == {"name": "inception-v3-compat", "features": ["logits_unbiased"], "path": str(weights)}
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    assert ImageFeatureExtractor(network)(images).shape == (3, 1)


def test_torch_fidelity_missing_is_a_typed_error(tmp_path, monkeypatch):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match="torch-fidelity"):
        torch_fidelity_inception(weights)
