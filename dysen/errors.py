"""Typed errors of :mod:`dysen`.

Every error raised on purpose by :mod:`dysen` is a :class:`DysenError`. Errors about what the user gave
(:class:`DysenInputError`, :class:`ConfigurationError`) name the argument; errors about what a model
answered (:class:`ResponseValidationError`) quote the validation problem so that it can be sent back to
the model in a repair request.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CassetteMissError",
    "ConfigurationError",
    "DemonstrationError",
    "DysenError",
    "DysenInputError",
    "ModelNotFoundError",
    "ResponseValidationError",
]


class DysenError(Exception):
    """Base class of every error raised by :mod:`dysen`."""


class DysenInputError(DysenError, ValueError):
    """An argument given by the user is not acceptable (wrong type, empty, out of range)."""

    def __init__(self, argument: str, value: object, reason: str) -> None:
        self.argument = argument
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        super().__init__(f"invalid {argument}: {shown} ({reason})")


class ConfigurationError(DysenError, ValueError):
    """A backend or planner is configured inconsistently (no API key, unknown model path, bad mode)."""


class ModelNotFoundError(DysenError, OSError):
    """A required model (spaCy pipeline, transformers checkpoint, text encoder) is not installed."""


class BackendError(DysenError, RuntimeError):
    """A chat backend failed after its retries (HTTP error, timeout, connection refused).

    Attributes:
        kind: short machine-readable cause (``"timeout"``, ``"rate_limit"``, ``"server"``, ``"connection"``,
            ``"bad_request"``, ``"other"``).
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        self.kind = kind
        super().__init__(message)


class CassetteMissError(BackendError):
    """Replay mode: the cassette holds no answer for this request."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="cassette_miss")


class ResponseValidationError(DysenError, ValueError):
    """A model answer does not follow the expected schema; ``str(error)`` is what a repair prompt quotes."""


class DemonstrationError(DysenError, ValueError):
    """A demonstration pool file or entry is invalid (names the file, line and field)."""
