"""Distribution distances over a pluggable feature extractor: FVD/KVD on I3D features, FID/KID on Inception.

:class:`FeatureDistance` streams two sample sets (real, generated) through one feature extractor into two
:class:`~vdm.metrics.statistics.FeatureStatistics`, batch by batch, and computes from them

* :meth:`FeatureDistance.frechet` — the Fréchet distance (FVD with an I3D extractor, FID with an Inception one);
* :meth:`FeatureDistance.kernel` — the unbiased polynomial-kernel MMD² (KVD / KID), when features are kept.

The extractor is any callable ``batch -> (N, D)`` tensor: :class:`~vdm.metrics.i3d.I3DFeatureExtractor`,
:class:`~vdm.metrics.inception.ImageFeatureExtractor`, or a user's own network. Reference statistics of the
real set can be computed once, saved (:meth:`FeatureStatistics.save`) and passed in with
:meth:`FeatureDistance.set_reference`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

import torch
from torch import Tensor

from .errors import MetricInputError
from .frechet import frechet_distance_from_statistics
from .kernel import KernelDistance, kernel_distance
from .statistics import FeatureStatistics

__all__ = ["FeatureDistance", "FeatureExtractor"]

FeatureExtractor = Callable[[Any], Tensor]


class FeatureDistance:
    """Accumulates features of a real and a generated set and compares their distributions.

    Args:
        extractor: callable mapping a batch (videos, images, ...) to features ``(N, D)``.
        keep_features: keep every feature row (needed for :meth:`kernel`; costs ``N·D`` float64 per set).

    Example (FVD and KVD with a local I3D file)::

        fvd = FeatureDistance(I3DFeatureExtractor.from_file("i3d_torchscript.pt"), keep_features=True)
        for real, fake in zip(real_loader, fake_loader):
            fvd.update(real, real=True)
            fvd.update(fake, real=False)
        print(fvd.frechet(), fvd.kernel().mean)
    """

    def __init__(self, extractor: FeatureExtractor, keep_features: bool = False) -> None:
        if not callable(extractor):
            raise MetricInputError(f"extractor must be callable (batch -> features), got {type(extractor).__name__}")
        self.extractor = extractor
        self.keep_features = keep_features
        self.real = FeatureStatistics(keep_features)
        self.fake = FeatureStatistics(keep_features)

    @torch.no_grad()
    def update(self, batch: Any, real: bool) -> Tensor:
        """Extract the features of ``batch`` and add them to the real or generated set; returns the features."""
        features = self.extractor(batch)
        if not isinstance(features, Tensor) or features.dim() != 2:
            raise MetricInputError(
                f"the extractor must return a (N, D) tensor, got {getattr(features, 'shape', type(features).__name__)}"
            )
        (self.real if real else self.fake).update(features)
        return features

    def update_from(self, batches: Iterable[Any], real: bool) -> FeatureDistance:
        """:meth:`update` with every batch of an iterable (e.g. a DataLoader)."""
        for batch in batches:
            self.update(batch, real=real)
        return self

    def set_reference(self, stats: FeatureStatistics) -> None:
        """Use precomputed statistics of the real set (e.g. :meth:`FeatureStatistics.load`)."""
        if self.keep_features and not stats.keep_features:
            raise MetricInputError("keep_features=True needs reference statistics saved with their features")
        self.real = stats

    def reset(self, real: bool = True, fake: bool = True) -> None:
        """Forget the accumulated features of the real and/or generated set."""
        if real:
            self.real = FeatureStatistics(self.keep_features)
        if fake:
            self.fake = FeatureStatistics(self.keep_features)

    def frechet(self, method: Literal["eigh", "sqrtm"] = "eigh", eps: float = 1e-6) -> float:
        """Fréchet distance between the two sets (FVD / FID); see :func:`~vdm.metrics.frechet.frechet_distance`."""
        return frechet_distance_from_statistics(self.real, self.fake, method=method, eps=eps)

    def kernel(
        self,
        num_subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        gamma: float | None = None,
        coef0: float = 1.0,
        seed: int = 0,
    ) -> KernelDistance:
        """Unbiased polynomial-kernel MMD² (KVD / KID); see :func:`~vdm.metrics.kernel.kernel_distance`."""
        if not self.keep_features:
            raise MetricInputError("kernel distances need the raw features: create FeatureDistance(keep_features=True)")
        generator = torch.Generator().manual_seed(seed)
        return kernel_distance(
            self.real.features, self.fake.features, num_subsets, subset_size, degree, gamma, coef0, generator
        )
