"""Kernel distances (KID for images, KVD for videos): unbiased MMD² with a polynomial kernel.

Bińkowski et al. (2018) define KID as the squared maximum mean discrepancy between two feature sets under the
cubic polynomial kernel ``k(x, y) = (γ xᵀy + c)^d`` with ``d = 3``, ``γ = 1/D``, ``c = 1``; Unterthiner et al.
(2018) use the same estimator on I3D features as KVD. The estimator is the unbiased U-statistic

    MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(m(m−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/(nm) Σ_{i,j} k(xᵢ, yⱼ),

whose expectation is the population MMD² exactly (so it can be negative when the two sets come from the same
distribution). As in StyleGAN2-ADA's KID, it is averaged over random subsets of equal size (``num_subsets``
draws of ``subset_size`` rows without replacement from each set) to bound the O(n²) cost; the standard
deviation over subsets is returned alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import MetricInputError, NotEnoughSamplesError

__all__ = ["KernelDistance", "kernel_distance", "mmd2_unbiased", "polynomial_kernel"]


def polynomial_kernel(x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> Tensor:
    """Gram matrix ``(γ x yᵀ + coef0)^degree``; ``gamma=None`` means ``1 / D``."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> float:
    """Unbiased MMD² (U-statistic, module docstring) between samples ``x (n, D)`` and ``y (m, D)``, n, m ≥ 2."""
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise NotEnoughSamplesError(f"the unbiased MMD² needs at least 2 samples per set, got {n} and {m}")
    k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
    k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
    k_xy = polynomial_kernel(x, y, degree, gamma, coef0)
    term_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    term_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(term_xx + term_yy - 2 * k_xy.mean())


@dataclass(frozen=True)
class KernelDistance:
    """Result of :func:`kernel_distance`: mean and standard deviation of MMD²_u over subsets."""

    mean: float
    std: float
    num_subsets: int
    subset_size: int

    def __float__(self) -> float:
        return self.mean


def kernel_distance(
    features1: Tensor,
    features2: Tensor,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    generator: torch.Generator | None = None,
) -> KernelDistance:
    """KID/KVD between two feature sets ``(N₁, D)`` and ``(N₂, D)``, computed in float64.

    Args:
        features1, features2: the two feature sets (e.g. I3D features of real and generated videos).
        num_subsets: number of random subset pairs the estimate is averaged over.
        subset_size: rows per subset, capped at ``min(N₁, N₂)``. When both sets have at most ``subset_size``
            rows, a single evaluation on all rows is exact and ``num_subsets`` is ignored (std 0).
        degree, gamma, coef0: kernel ``(γ xᵀy + coef0)^degree``; defaults are KID's (3, 1/D, 1).
        generator: random generator for the subsets (seed it for reproducible numbers).
    """
    x = torch.as_tensor(features1).detach().to(device="cpu", dtype=torch.float64)
    y = torch.as_tensor(features2).detach().to(device="cpu", dtype=torch.float64)
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise MetricInputError(f"feature sets must be (N, D) with equal D, got {tuple(x.shape)} and {tuple(y.shape)}")
    if num_subsets < 1 or subset_size < 2:
        raise MetricInputError(f"need num_subsets >= 1 and subset_size >= 2, got {num_subsets}, {subset_size}")
    size = min(subset_size, x.shape[0], y.shape[0])
    if x.shape[0] <= subset_size and y.shape[0] <= subset_size:
        return KernelDistance(mmd2_unbiased(x, y, degree, gamma, coef0), 0.0, 1, size)
    values = torch.tensor(
        [
            mmd2_unbiased(
                x[torch.randperm(x.shape[0], generator=generator)[:size]],
                y[torch.randperm(y.shape[0], generator=generator)[:size]],
                degree,
                gamma,
                coef0,
            )
            for _ in range(num_subsets)
        ],
        dtype=torch.float64,
    )
    std = float(values.std()) if num_subsets > 1 else 0.0
    return KernelDistance(float(values.mean()), std, num_subsets, size)
