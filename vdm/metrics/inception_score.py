"""Inception Score (Salimans et al. 2016) from any classifier that returns logits.

    IS = exp( E_x KL( p(y | x) ‖ p(y) ) ),   p(y) = E_x p(y | x),

computed on ``splits`` consecutive equal parts of the samples (10 by convention) and reported as the mean and
standard deviation over the parts. It ranges from 1 (every sample gets the same class distribution) to the
number of classes K (confident predictions spread evenly over all classes).

The paper's IS on UCF-101 (Tables 1, 2) is the *video* Inception Score of the TGAN protocol, whose classifier is
a C3D network fine-tuned on UCF-101; image IS uses Inception-v3 on ImageNet. Both are "a classifier returning
logits" here: pass the network (wrapped in :class:`~vdm.metrics.inception.ImageFeatureExtractor`, or any
callable doing its own preprocessing) to :class:`InceptionScore`. We ship no classifier weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .errors import MetricInputError, NotEnoughSamplesError

__all__ = ["InceptionScore", "InceptionScoreResult", "inception_score"]


@dataclass(frozen=True)
class InceptionScoreResult:
    """Mean and standard deviation of the Inception Score over the splits, and the per-split scores."""

    mean: float
    std: float
    per_split: tuple[float, ...]

    def __float__(self) -> float:
        return self.mean


def inception_score(logits: Tensor, splits: int = 10) -> InceptionScoreResult:
    """Inception Score of classifier ``logits (N, K)``, in float64, over ``splits`` consecutive parts.

    The parts are taken in sample order (as in the original code and torch-fidelity without shuffling); with
    ``N`` not divisible by ``splits`` the first parts get one sample more. Use ``splits=1`` for one score on all
    samples.
    """
    logits = torch.as_tensor(logits).detach().to(device="cpu", dtype=torch.float64)
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise MetricInputError(f"logits must have shape (N, K) with K >= 2 classes, got {tuple(logits.shape)}")
    if not torch.isfinite(logits).all():
        raise MetricInputError("logits contain NaN or infinite values")
    if splits < 1 or logits.shape[0] < splits:
        raise NotEnoughSamplesError(f"{logits.shape[0]} samples cannot be cut into {splits} splits")
    scores = []
    for part in torch.tensor_split(logits, splits):
        log_p = part.log_softmax(dim=1)
        log_marginal = torch.logsumexp(log_p, dim=0) - torch.log(
            torch.tensor(float(part.shape[0]), dtype=torch.float64)
        )
        kl = (log_p.exp() * (log_p - log_marginal)).sum(dim=1)
        scores.append(float(kl.mean().exp()))
    values = torch.tensor(scores, dtype=torch.float64)
    std = float(values.std(correction=0)) if splits > 1 else 0.0
    return InceptionScoreResult(float(values.mean()), std, tuple(scores))


class InceptionScore:
    """Streams batches through a classifier, keeps its logits, and computes the Inception Score.

    Args:
        classifier: callable ``batch -> logits (N, K)`` (softmax is applied here, never by the classifier).
        splits: number of parts (10 by convention).
    """

    def __init__(self, classifier: Callable[[Any], Tensor], splits: int = 10) -> None:
        if not callable(classifier):
            raise MetricInputError(f"classifier must be callable (batch -> logits), got {type(classifier).__name__}")
        self.classifier = classifier
        self.splits = splits
        self._logits: list[Tensor] = []

    @torch.no_grad()
    def update(self, batch: Any) -> Tensor:
        """Classify ``batch`` and keep its logits (CPU float64); returns them."""
        logits = self.classifier(batch)
        if not isinstance(logits, Tensor) or logits.dim() != 2:
            raise MetricInputError(f"the classifier must return (N, K) logits, got {getattr(logits, 'shape', logits)}")
        if self._logits and logits.shape[1] != self._logits[0].shape[1]:
            raise MetricInputError(f"number of classes changed from {self._logits[0].shape[1]} to {logits.shape[1]}")
        logits = logits.detach().to(device="cpu", dtype=torch.float64)
        self._logits.append(logits)
        return logits

    @property
    def logits(self) -> Tensor:
        """All logits so far, ``(N, K)``."""
        if not self._logits:
            raise NotEnoughSamplesError("no samples classified yet: call update() first")
        return torch.cat(self._logits)

    def compute(self) -> InceptionScoreResult:
        """:func:`inception_score` of every logit so far."""
        return inception_score(self.logits, self.splits)

    def reset(self) -> None:
        self._logits = []
