"""Inception Score on distributions whose score is known."""

from __future__ import annotations

import math

import pytest
import torch

from vdm.metrics import InceptionScore, MetricInputError, NotEnoughSamplesError, inception_score


def _confident_logits(labels: torch.Tensor, num_classes: int, margin: float = 60.0) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).double() * margin


@pytest.mark.parametrize("num_classes", [2, 7, 100])
def test_confident_uniform_predictions_score_k(num_classes):
    labels = torch.arange(num_classes * 10) % num_classes
    result = inception_score(_confident_logits(labels, num_classes), splits=1)
    assert result.mean == pytest.approx(num_classes, rel=1e-9)


def test_identical_predictions_score_one():
    logits = torch.randn(1, 9).repeat(50, 1)
    result = inception_score(logits, splits=5)
    assert result.mean == pytest.approx(1.0, abs=1e-12) and result.std == pytest.approx(0.0, abs=1e-12)


def test_two_class_closed_form():
    # Half the samples predict (p, 1−p), half (1−p, p): marginal uniform, IS = exp(log 2 − H(p)).
    p = 0.8
    logit = math.log(p / (1 - p))
    logits = torch.tensor([[logit, 0.0], [0.0, logit]] * 20, dtype=torch.float64)
    entropy = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert inception_score(logits, splits=1).mean == pytest.approx(math.exp(math.log(2) - entropy), rel=1e-12)


def test_splits_are_consecutive_parts():
    # First half all class 0, second half all class 1: each of 2 splits is constant → IS 1, one split → IS 2.
    logits = _confident_logits(torch.tensor([0] * 10 + [1] * 10), 2)
    assert inception_score(logits, splits=2).per_split == pytest.approx((1.0, 1.0))
    assert inception_score(logits, splits=1).mean == pytest.approx(2.0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torchmetrics: feature buffer notice, std of one split
def test_streaming_class_matches_function_and_torchmetrics():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(40, 6, generator=g)
    classifier = torch.nn.Linear(6, 5)
    metric = InceptionScore(classifier, splits=1)
    for batch in images.split(7):
        metric.update(batch)
    with torch.no_grad():
        expected = inception_score(classifier(images), splits=1).mean
    assert metric.compute().mean == pytest.approx(expected, rel=1e-12)

    tm = pytest.importorskip("torchmetrics.image.inception")

    class Logits(torch.nn.Module):
        def forward(self, x):
            return classifier(x)

    reference = tm.InceptionScore(feature=Logits(), splits=1)
    reference.update(images)
    assert float(reference.compute()[0]) == pytest.approx(expected, rel=1e-5)


def test_errors():
    with pytest.raises(MetricInputError, match="K >= 2"):
        inception_score(torch.randn(5, 1))
    with pytest.raises(NotEnoughSamplesError, match="splits"):
        inception_score(torch.randn(5, 3), splits=10)
    with pytest.raises(NotEnoughSamplesError):
        InceptionScore(lambda x: x).compute()
    metric = InceptionScore(lambda x: x)
    metric.update(torch.randn(3, 4))
    with pytest.raises(MetricInputError, match="number of classes"):
        metric.update(torch.randn(3, 5))
