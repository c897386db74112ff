"""Streaming feature statistics equal the statistics of the concatenated features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vdm.metrics import FeatureStatistics, MetricInputError, NotEnoughSamplesError, WeightsFormatError


@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_streaming_matches_numpy_for_any_batching(sizes, seed):
    rng = np.random.default_rng(seed)
    batches = [rng.normal(loc=3.0, size=(n, 4)) for n in sizes]
    data = np.concatenate(batches)
    stats = FeatureStatistics.from_features(torch.tensor(b) for b in batches)
    assert stats.count == len(data)
    if len(data) == 0:
        assert stats.dim is None
        return
    np.testing.assert_allclose(stats.mean.numpy(), data.mean(axis=0), rtol=1e-12, atol=1e-12)
    if len(data) >= 2:
        np.testing.assert_allclose(stats.covariance().numpy(), np.cov(data, rowvar=False), rtol=1e-10, atol=1e-12)


def test_large_offset_is_numerically_stable():
    # Raw Σxxᵀ accumulation in float64 loses ~all digits here; the pairwise update does not.
    rng = np.random.default_rng(0)
    data = 1e7 + rng.normal(size=(1000, 3))
    stats = FeatureStatistics.from_features(torch.tensor(data).split(37))
    np.testing.assert_allclose(stats.covariance().numpy(), np.cov(data, rowvar=False), rtol=1e-6)


def test_merge_equals_single_pass_and_keeps_features():
    x, y = torch.randn(10, 3), torch.randn(7, 3)
    merged = FeatureStatistics(keep_features=True).update(x).merge(FeatureStatistics(keep_features=True).update(y))
    single = FeatureStatistics().update(torch.cat([x, y]))
    torch.testing.assert_close(merged.mean, single.mean)
    torch.testing.assert_close(merged.covariance(), single.covariance())
    torch.testing.assert_close(merged.features, torch.cat([x, y]).double())


def test_save_load_round_trip(tmp_path):
    stats = FeatureStatistics(keep_features=True).update(torch.randn(9, 5))
    stats.save(tmp_path / "ref.safetensors")
    loaded = FeatureStatistics.load(tmp_path / "ref.safetensors")
    assert loaded.count == 9 and loaded.keep_features
    torch.testing.assert_close(loaded.covariance(), stats.covariance(), rtol=0, atol=0)
    torch.testing.assert_close(loaded.features, stats.features, rtol=0, atol=0)


def test_load_rejects_foreign_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"mean": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsFormatError):
        FeatureStatistics.load(tmp_path / "other.safetensors")


def test_errors():
    stats = FeatureStatistics()
    with pytest.raises(NotEnoughSamplesError):
        stats.mean  # noqa: B018
    stats.update(torch.randn(1, 3))
    with pytest.raises(NotEnoughSamplesError, match="more than 1"):
        stats.covariance()
    with pytest.raises(MetricInputError, match="dimension changed"):
        stats.update(torch.randn(2, 4))
    with pytest.raises(MetricInputError, match=r"\(N, D\)"):
        stats.update(torch.randn(2, 3, 1))
    with pytest.raises(MetricInputError, match="NaN"):
        stats.update(torch.tensor([[0.0, float("inf"), 0.0]]))
    with pytest.raises(MetricInputError, match="keep_features"):
        stats.features  # noqa: B018
