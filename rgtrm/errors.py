"""Typed errors of :mod:`rgtrm`: each names the argument or file that was wrong and why."""

from __future__ import annotations

from typing import Any

__all__ = ["CheckpointError", "RGTrmConfigError", "RGTrmError", "RGTrmInputError"]


class RGTrmError(Exception):
    """Base class of every error raised by :mod:`rgtrm`."""


class RGTrmInputError(RGTrmError, ValueError):
    """A tensor or argument handed to a layer or encoder is malformed.

    Attributes:
        field: name of the offending argument (``"prev_index"``, ``"edge_attr"``, ...).
        value: the offending value, or a short description of it (e.g. its shape).
        reason: what was expected.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field}: {value!r} ({reason})")


class RGTrmConfigError(RGTrmInputError):
    """An encoder or layer configuration is inconsistent (e.g. ``hidden`` not divisible by ``heads``)."""


class CheckpointError(RGTrmError, OSError):
    """A saved encoder directory is missing a file, has an unknown format, or does not match its config."""
