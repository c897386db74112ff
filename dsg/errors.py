"""Typed errors of the DSG data model.

Every error raised by :mod:`dsg` is a :class:`DSGError`. Validation errors name the offending field,
the frame (when there is one) and the value, so that a bad annotation in a corpus of thousands can be
found at once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DSGError", "DSGValidationError", "EmptyScheduleError", "SchemaError", "VocabularyError"]


class DSGError(Exception):
    """Base class of every error raised by :mod:`dsg`."""


class DSGValidationError(DSGError, ValueError):
    """A value does not satisfy the data model.

    Attributes:
        field: name of the offending field (``"event.start"``, ``"relation.object"``, ...).
        value: the offending value.
        frame: index of the frame the value belongs to, or ``None``.
    """

    def __init__(self, field: str, value: Any, reason: str, frame: int | None = None) -> None:
        self.field = field
        self.value = value
        self.frame = frame
        self.reason = reason
        where = f" in frame {frame}" if frame is not None else ""
        super().__init__(f"invalid {field}{where}: {value!r} ({reason})")


class EmptyScheduleError(DSGError, ValueError):
    """An operation needs at least one event but the schedule is empty."""


class SchemaError(DSGError, ValueError):
    """Serialised data (JSON, networkx, tensors) does not follow the expected schema or version."""


class VocabularyError(DSGError, KeyError):
    """A label is not in a frozen vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown label"
