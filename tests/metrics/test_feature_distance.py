"""FVD/KVD/FID plumbing: invariances of the streaming two-set metric over a stand-in feature network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vdm.metrics import FeatureDistance, FeatureStatistics, MetricInputError, frechet_distance


class TinyVideoNet(nn.Module):
    """Stand-in for I3D: (B, T, 3, H, W) → (B, 6) features."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(3, 6, kernel_size=3, padding=1)

    def forward(self, videos):
        return torch.tanh(self.conv(videos.permute(0, 2, 1, 3, 4))).mean(dim=(2, 3, 4)) * 5


@pytest.fixture(scope="module")
def videos():
    g = torch.Generator().manual_seed(0)
    return torch.rand(24, 4, 3, 8, 8, generator=g), torch.rand(24, 4, 3, 8, 8, generator=g) ** 2


def _fvd(real, fake, batch_size, keep=False):
    metric = FeatureDistance(TinyVideoNet(), keep_features=keep)
    metric.update_from(real.split(batch_size), real=True)
    metric.update_from(fake.split(batch_size), real=False)
    return metric


def test_fvd_of_a_set_with_itself_is_zero(videos):
    real, _ = videos
    assert abs(_fvd(real, real, 5).frechet()) < 1e-9


def test_fvd_is_invariant_to_sample_order_and_batching(videos):
    real, fake = videos
    reference = _fvd(real, fake, 24).frechet()
    assert reference > 1e-3
    permutation = torch.randperm(24, generator=torch.Generator().manual_seed(1))
    # float32 convolutions differ in the last bits between batch sizes; the statistics themselves are exact.
    assert _fvd(real[permutation], fake.flip(0), 7).frechet() == pytest.approx(reference, rel=1e-6)
    assert _fvd(real, fake, 1).frechet() == pytest.approx(reference, rel=1e-6)


def test_fvd_equals_frechet_distance_of_feature_gaussians(videos):
    real, fake = videos
    net = TinyVideoNet()
    with torch.no_grad():
        a, b = net(real).double(), net(fake).double()
    expected = frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert _fvd(real, fake, 5).frechet() == pytest.approx(expected, rel=1e-9)


def test_shifted_identity_features_give_squared_shift():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    metric = FeatureDistance(lambda batch: batch)
    metric.update(x, real=True)
    metric.update(x + torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64), real=False)
    assert metric.frechet() == pytest.approx(5.0, rel=1e-9)


def test_kvd_from_kept_features(videos):
    real, fake = videos
    metric = _fvd(real, fake, 6, keep=True)
    kvd = metric.kernel(subset_size=10, num_subsets=8, seed=0)
    assert kvd == metric.kernel(subset_size=10, num_subsets=8, seed=0)
    assert kvd.num_subsets == 8 and kvd.subset_size == 10
    with pytest.raises(MetricInputError, match="keep_features"):
        _fvd(real, fake, 6).kernel()


def test_reference_statistics_saved_and_reused(videos, tmp_path):
    real, fake = videos
    full = _fvd(real, fake, 8)
    full.real.save(tmp_path / "real_stats.safetensors")
    reused = FeatureDistance(TinyVideoNet())
    reused.set_reference(FeatureStatistics.load(tmp_path / "real_stats.safetensors"))
    reused.update(fake, real=False)
    assert reused.frechet() == pytest.approx(full.frechet(), rel=1e-12)
    reused.reset(real=False)
    assert reused.fake.count == 0 and reused.real.count == 24


def test_bad_extractors_raise():
    with pytest.raises(MetricInputError, match="callable"):
        FeatureDistance("i3d.pt")
    with pytest.raises(MetricInputError, match=r"\(N, D\)"):
        FeatureDistance(lambda batch: batch.sum()).update(torch.randn(3, 2), real=True)
