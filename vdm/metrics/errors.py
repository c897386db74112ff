"""Typed errors of :mod:`vdm.metrics`.

Every error raised by the metrics is a :class:`MetricError`. Each one names what was wrong (the argument, the
shape, the file) so that a failed evaluation run can be fixed without reading the source.
"""

from __future__ import annotations

__all__ = [
    "BrokenTokenizerError",
    "MetricError",
    "MetricInputError",
    "MissingDependencyError",
    "NotEnoughSamplesError",
    "WeightsFormatError",
    "WeightsNotFoundError",
]


class MetricError(Exception):
    """Base class of every error raised by :mod:`vdm.metrics`."""


class MetricInputError(MetricError, ValueError):
    """A tensor or argument given to a metric has the wrong shape, dtype, value range or type."""


class NotEnoughSamplesError(MetricError, ValueError):
    """A statistic needs more samples than were accumulated (e.g. a covariance needs at least two)."""


class WeightsNotFoundError(MetricError, FileNotFoundError):
    """A weights file or model folder does not exist locally (nothing is ever downloaded)."""


class WeightsFormatError(MetricError, ValueError):
    """A weights file exists but is not in a format the loader understands, or does not fit the network."""


class MissingDependencyError(MetricError, ImportError):
    """An optional package needed by the requested backend is not installed."""


class BrokenTokenizerError(MetricError, ValueError):
    """A tokenizer loaded without error but cannot tokenize text (the offline CLIP tokenizer trap).

    ``CLIPTokenizer.from_pretrained("<hub id>")`` without network, and ``CLIPTokenizer(vocab_file=...,
    merges_file=...)`` under transformers 5, return a tokenizer whose vocabulary holds only the two special
    tokens: every caption becomes ``[<|startoftext|>, <|endoftext|>, ...]`` and every CLIP score is then the
    same meaningless number.
    """
