"""KVD/KID: the unbiased MMD² estimator against a brute-force reference and its expectation."""

from __future__ import annotations

import itertools

import pytest
import torch

from vdm.metrics import MetricInputError, NotEnoughSamplesError, kernel_distance, mmd2_unbiased


def _brute_force_mmd2(x, y, degree=3, gamma=None, coef0=1.0) -> float:
    gamma = 1.0 / x.shape[1] if gamma is None else gamma

    def k(a, b):
        return (gamma * float(a @ b) + coef0) ** degree

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_matches_brute_force_u_statistic():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64) + 1
    assert mmd2_unbiased(x, y) == pytest.approx(_brute_force_mmd2(x, y), rel=1e-12)
    assert mmd2_unbiased(x, y, degree=2, gamma=0.5, coef0=0.0) == pytest.approx(
        _brute_force_mmd2(x, y, 2, 0.5, 0.0), rel=1e-12
    )


def test_unbiased_for_linear_kernel():
    # With k(x, y) = xᵀy the population MMD² is ‖μx − μy‖²; the U-statistic's mean over draws must hit it,
    # while the biased V-statistic overshoots by (tr Σx)/n + (tr Σy)/m = 2·4/5 = 1.6 here.
    g = torch.Generator().manual_seed(1)
    shift = torch.tensor([0.5, 0.0, -0.5, 0.0], dtype=torch.float64)
    estimates = [
        mmd2_unbiased(
            torch.randn(5, 4, generator=g, dtype=torch.float64),
            torch.randn(5, 4, generator=g, dtype=torch.float64) + shift,
            degree=1,
            gamma=1.0,
            coef0=0.0,
        )
        for _ in range(4000)
    ]
    mean = torch.tensor(estimates).mean().item()
    standard_error = torch.tensor(estimates).std().item() / len(estimates) ** 0.5
    assert abs(mean - float(shift @ shift)) < 4 * standard_error
    assert standard_error < 0.05  # the test can tell 0.5 from 0.5 + 1.6


def test_same_distribution_is_centred_on_zero():
    g = torch.Generator().manual_seed(2)
    estimates = torch.tensor(
        [mmd2_unbiased(torch.randn(20, 8, generator=g), torch.randn(20, 8, generator=g)) for _ in range(300)]
    )
    assert (estimates < 0).any(), "an unbiased estimator of 0 must sometimes be negative"
    assert abs(estimates.mean()) < 4 * estimates.std() / 300**0.5


def test_kernel_distance_subsets_reproducible_and_detect_shift():
    g = torch.Generator().manual_seed(3)
    real, same, shifted = (torch.randn(300, 6, generator=g) for _ in range(3))
    shifted = shifted + 1.0

    def kvd(a, b, seed):
        return kernel_distance(a, b, num_subsets=20, subset_size=50, generator=torch.Generator().manual_seed(seed))

    assert kvd(real, shifted, 0) == kvd(real, shifted, 0)
    result = kvd(real, shifted, 0)
    assert result.subset_size == 50 and result.num_subsets == 20 and result.std > 0
    assert kvd(real, shifted, 0).mean > 10 * abs(kvd(real, same, 0).mean)


def test_small_sets_use_all_rows_exactly():
    x, y = torch.randn(30, 4), torch.randn(20, 4)
    result = kernel_distance(x, y, subset_size=1000)
    assert result.mean == pytest.approx(mmd2_unbiased(x.double(), y.double()), rel=1e-12)
    assert result.std == 0.0


def test_errors():
    with pytest.raises(NotEnoughSamplesError):
        mmd2_unbiased(torch.randn(1, 3), torch.randn(4, 3))
    with pytest.raises(MetricInputError, match="equal D"):
        kernel_distance(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(MetricInputError, match="subset_size"):
        kernel_distance(torch.randn(4, 3), torch.randn(4, 3), subset_size=1)
