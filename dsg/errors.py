"""Typed errors of the DSG data model.

Every error raised by :mod:`dsg` is a :class:`DSGError`. Validation errors name the offending field,
the frame (when there is one) and the value, so that a bad annotation in a corpus of thousands can be
found at once. Resource limits (:mod:`dsg.limits`) raise :class:`DSGLimitError` before anything is
allocated.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DSGError",
    "DSGLimitError",
    "DSGValidationError",
    "EmptyScheduleError",
    "SchemaError",
    "VocabularyError",
]


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

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (worker processes send errors back)
        return type(self), (self.field, self.value, self.reason, self.frame)


class DSGLimitError(DSGError, ValueError):
    """A value exceeds one of the resource limits of :mod:`dsg.limits` (checked before allocating).

    Attributes:
        field: name of the offending field (``"frames[0].repeat"``, ``"num_frames"``, ``"json.depth"``).
        value: the offending value.
        limit: the limit it exceeds.
        where: where the value was read (``"corpus.jsonl:3"``), or ``None``.
    """

    def __init__(self, field: str, value: Any, limit: int, where: str | None = None) -> None:
        self.field = field
        self.value = value
        self.limit = limit
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field} = {value!r} exceeds the limit of {limit} (see dsg.limits)")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (worker processes send errors back)
        return type(self), (self.field, self.value, self.limit, self.where)

    def at(self, where: str) -> DSGLimitError:
        """The same error, located at ``where`` (a file, ``file:line``)."""
        return DSGLimitError(self.field, self.value, self.limit, where)


class EmptyScheduleError(DSGError, ValueError):
    """An operation needs at least one event but the schedule is empty."""


class SchemaError(DSGError, ValueError):
    """Serialised data (JSON, networkx, tensors) does not follow the expected schema or version."""


class VocabularyError(DSGError, KeyError):
    """A label is not in a frozen vocabulary."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown label"
