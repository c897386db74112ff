"""Streaming first and second moments of feature vectors, so that metrics run over datasets batch by batch.

:class:`FeatureStatistics` keeps, in float64, the number of samples, their mean and the centred sum of
outer products; batches are merged with the pairwise update of Chan, Golub & LeVeque (1979), which is exact
in exact arithmetic and far more stable than accumulating raw ``Σ x xᵀ``. Optionally it keeps the features
themselves (needed by kernel distances such as KVD/KID, which are not functions of the moments).

Statistics of a reference set (the real videos) can be saved once with :meth:`FeatureStatistics.save`
(safetensors) and reused for every evaluated model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import Tensor

from .errors import MetricInputError, NotEnoughSamplesError, WeightsFormatError, WeightsNotFoundError

__all__ = ["FeatureStatistics"]

_FORMAT = "vdm.metrics.FeatureStatistics/1"


class FeatureStatistics:
    """Running count, mean and covariance of D-dimensional features (float64).

    Args:
        keep_features: also keep every feature row (float64, on CPU) in :attr:`features`.

    Example:
        >>> stats = FeatureStatistics()
        >>> for batch in (torch.randn(8, 4), torch.randn(5, 4)):
        ...     stats.update(batch)
        >>> stats.count, stats.mean.shape, stats.covariance().shape
        (13, torch.Size([4]), torch.Size([4, 4]))
    """

    def __init__(self, keep_features: bool = False) -> None:
        self.keep_features = keep_features
        self.count = 0
        self._mean: Tensor | None = None
        self._m2: Tensor | None = None  # Σ (x - mean)(x - mean)ᵀ
        self._features: list[Tensor] = []

    @property
    def dim(self) -> int | None:
        """Feature dimension, or ``None`` before the first update."""
        return None if self._mean is None else self._mean.numel()

    @property
    def mean(self) -> Tensor:
        """Mean feature vector, shape ``(D,)``, float64."""
        if self._mean is None:
            raise NotEnoughSamplesError("no features accumulated yet: call update() first")
        return self._mean.clone()

    def covariance(self, ddof: int = 1) -> Tensor:
        """Covariance matrix ``(D, D)`` in float64; ``ddof=1`` (default) is the unbiased estimate of ``numpy.cov``."""
        if self._m2 is None or self.count - ddof <= 0:
            raise NotEnoughSamplesError(
                f"a covariance with ddof={ddof} needs more than {ddof} samples, got {self.count}"
            )
        return self._m2 / (self.count - ddof)

    @property
    def features(self) -> Tensor:
        """All accumulated features ``(N, D)`` in float64 (only with ``keep_features=True``)."""
        if not self.keep_features:
            raise MetricInputError("features were not kept: create FeatureStatistics(keep_features=True)")
        if not self._features:
            raise NotEnoughSamplesError("no features accumulated yet: call update() first")
        if len(self._features) > 1:
            self._features = [torch.cat(self._features)]
        return self._features[0]

    def update(self, features: Tensor) -> FeatureStatistics:
        """Add a batch of features ``(N, D)`` (any float dtype or device; converted to CPU float64)."""
        if not isinstance(features, Tensor):
            raise MetricInputError(f"features must be a torch.Tensor, got {type(features).__name__}")
        if features.dim() != 2:
            raise MetricInputError(f"features must have shape (N, D), got {tuple(features.shape)}")
        if self.dim is not None and features.shape[1] != self.dim:
            raise MetricInputError(f"feature dimension changed: accumulated D={self.dim}, got D={features.shape[1]}")
        x = features.detach().to(device="cpu", dtype=torch.float64)
        if not torch.isfinite(x).all():
            raise MetricInputError("features contain NaN or infinite values")
        n = x.shape[0]
        if n == 0:
            return self
        batch_mean = x.mean(dim=0)
        centred = x - batch_mean
        self._merge(n, batch_mean, centred.T @ centred)
        if self.keep_features:
            self._features.append(x)
        return self

    def merge(self, other: FeatureStatistics) -> FeatureStatistics:
        """Add the samples summarised by ``other`` (e.g. from another worker) to these statistics."""
        if other.count == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise MetricInputError(f"cannot merge statistics of dimension {other.dim} into dimension {self.dim}")
        if self.keep_features:
            self._features.append(other.features)
        self._merge(other.count, other._mean, other._m2)
        return self

    def _merge(self, n: int, mean: Tensor, m2: Tensor) -> None:
        if self._mean is None:
            self.count, self._mean, self._m2 = n, mean.clone(), m2.clone()
            return
        total = self.count + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + torch.outer(delta, delta) * (self.count * n / total)
        self.count = total

    @classmethod
    def from_features(cls, features: Tensor | Iterable[Tensor], keep_features: bool = False) -> FeatureStatistics:
        """Statistics of one ``(N, D)`` tensor or of an iterable of such batches."""
        stats = cls(keep_features=keep_features)
        for batch in [features] if isinstance(features, Tensor) else features:
            stats.update(batch)
        return stats

    def save(self, path: str | os.PathLike) -> None:
        """Write count, mean, centred scatter matrix (and kept features) to a safetensors file."""
        from safetensors.torch import save_file

        if self._mean is None:
            raise NotEnoughSamplesError("nothing to save: no features accumulated")
        tensors = {"mean": self._mean, "m2": self._m2, "count": torch.tensor([self.count], dtype=torch.int64)}
        if self.keep_features:
            tensors["features"] = self.features.contiguous()
        save_file(tensors, os.fspath(path), metadata={"format": _FORMAT})

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureStatistics:
        """Read statistics written by :meth:`save`."""
        from safetensors import safe_open

        if not os.path.isfile(path):
            raise WeightsNotFoundError(f"feature statistics file not found: {os.fspath(path)!r}")
        with safe_open(os.fspath(path), framework="pt") as f:
            if (f.metadata() or {}).get("format") != _FORMAT:
                raise WeightsFormatError(f"{os.fspath(path)!r} is not a {_FORMAT} file")
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        stats = cls(keep_features="features" in tensors)
        stats.count = int(tensors["count"].item())
        stats._mean, stats._m2 = tensors["mean"], tensors["m2"]
        if stats.keep_features:
            stats._features = [tensors["features"]]
        return stats

    def __repr__(self) -> str:
        return f"FeatureStatistics(count={self.count}, dim={self.dim}, keep_features={self.keep_features})"
