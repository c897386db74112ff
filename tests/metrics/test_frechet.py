"""Fréchet distance against numerically independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vdm.metrics import MetricInputError, frechet_distance, trace_sqrt_product


def _random_covariance(rng: np.random.Generator, dim: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(dim, rank or dim))
    return a @ a.T / (rank or dim)


def _reference_via_numpy_eig(mu1, s1, mu2, s2) -> float:
    """Second implementation: Tr sqrt(S1 S2) = Σ sqrt(eig(sqrt(S1) S2 sqrt(S1))), sqrt(S1) from numpy's eigh."""
    w, v = np.linalg.eigh(s1)
    root = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvals(root @ s2 @ root).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_diagonal_gaussians_closed_form(method):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    var1, var2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = frechet_distance(
        torch.tensor(mu1),
        torch.diag(torch.tensor(var1)),
        torch.tensor(mu2),
        torch.diag(torch.tensor(var2)),
        method=method,
    )
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_commuting_covariances_closed_form():
    # S1 = Q D1 Qᵀ, S2 = Q D2 Qᵀ share eigenvectors: d² = ‖Δμ‖² + Σ (√d1 − √d2)².
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    d1, d2 = rng.uniform(0.2, 2, size=5), rng.uniform(0.2, 2, size=5)
    s1, s2 = q @ np.diag(d1) @ q.T, q @ np.diag(d2) @ q.T
    mu = rng.normal(size=5)
    expected = np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(torch.tensor(mu), torch.tensor(s1), torch.tensor(mu), torch.tensor(s2)) == pytest.approx(
        expected, rel=1e-8
    )


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_general_covariances_match_second_implementation(method, seed):
    rng = np.random.default_rng(seed)
    dim = 16
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = _random_covariance(rng, dim), _random_covariance(rng, dim)
    expected = _reference_via_numpy_eig(mu1, s1, mu2, s2)
    got = frechet_distance(torch.tensor(mu1), torch.tensor(s1), torch.tensor(mu2), torch.tensor(s2), method=method)
    assert got == pytest.approx(expected, rel=1e-7)


def test_identical_gaussians_give_zero_and_symmetry():
    rng = np.random.default_rng(3)
    mu, s = torch.tensor(rng.normal(size=8)), torch.tensor(_random_covariance(rng, 8))
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-10
    mu2, s2 = torch.tensor(rng.normal(size=8)), torch.tensor(_random_covariance(rng, 8))
    assert frechet_distance(mu, s, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu, s), rel=1e-9)


def test_singular_covariances_are_handled():
    # Rank-3 covariances in 10 dimensions (fewer samples than features): both methods stay finite and agree.
    rng = np.random.default_rng(4)
    s1, s2 = _random_covariance(rng, 10, rank=3), _random_covariance(rng, 10, rank=3)
    mu = torch.zeros(10, dtype=torch.float64)
    eigh = frechet_distance(mu, torch.tensor(s1), mu, torch.tensor(s2), method="eigh")
    sqrtm = frechet_distance(mu, torch.tensor(s1), mu, torch.tensor(s2), method="sqrtm")
    assert np.isfinite(eigh) and eigh > 0
    assert eigh == pytest.approx(_reference_via_numpy_eig(np.zeros(10), s1, np.zeros(10), s2), rel=1e-6, abs=1e-9)
    assert sqrtm == pytest.approx(eigh, rel=1e-3)


def test_float32_inputs_are_computed_in_float64():
    rng = np.random.default_rng(5)
    s1, s2 = _random_covariance(rng, 6), _random_covariance(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    exact = _reference_via_numpy_eig(mu1, s1, mu2, s2)
    got = frechet_distance(*(torch.tensor(a, dtype=torch.float32) for a in (mu1, s1, mu2, s2)))
    assert got == pytest.approx(exact, rel=1e-5)


def test_agrees_with_torchmetrics_when_installed():
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    rng = np.random.default_rng(6)
    mu1, mu2 = torch.tensor(rng.normal(size=12)), torch.tensor(rng.normal(size=12))
    s1, s2 = torch.tensor(_random_covariance(rng, 12)), torch.tensor(_random_covariance(rng, 12))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        float(fid_module._compute_fid(mu1, s1, mu2, s2)), rel=1e-6
    )


def test_trace_sqrt_product_of_identity():
    eye = torch.eye(7, dtype=torch.float64)
    assert trace_sqrt_product(eye, 4 * eye) == pytest.approx(14.0)


def test_bad_inputs_raise_typed_errors():
    mu, s = torch.zeros(3), torch.eye(3)
    with pytest.raises(MetricInputError, match="shapes do not match"):
        frechet_distance(mu, s, torch.zeros(4), torch.eye(4))
    with pytest.raises(MetricInputError, match="dimension"):
        frechet_distance(s, s, mu, s)
    with pytest.raises(MetricInputError, match="NaN"):
        frechet_distance(torch.tensor([0.0, float("nan"), 0.0]), s, mu, s)
    with pytest.raises(MetricInputError, match="method"):
        frechet_distance(mu, s, mu, s, method="svd")
