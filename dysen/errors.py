"""Typed errors of :mod:`dysen`.

Every error raised on purpose by :mod:`dysen` is a :class:`DysenError`. Errors about what the user gave
(:class:`DysenInputError`, :class:`ConfigurationError`) name the argument; errors about what a model
answered (:class:`ResponseValidationError`) quote the validation problem so that it can be sent back to
the model in a repair request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "BackendError",
    "CassetteMissError",
    "ConfigurationError",
    "DemonstrationError",
    "DysenError",
    "DysenInputError",
    "ModelNotFoundError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "redact_secrets",
]

REDACTED = "[REDACTED]"
_SECRET_PATTERNS = (
    (re.compile(r"\bsk-[A-Za-z0-9_\-*]{3,}"), "sk-" + REDACTED),  # OpenAI-style keys, also masked echoes
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-*]{4,}"), r"\1 " + REDACTED),
    (
        re.compile(r"(?i)\b(authorization|api[_-]?key|x-api-key|access[_-]?token)(\"?'?\s*[:=]\s*\"?'?)[^\s\"'&,;]+"),
        r"\1\2" + REDACTED,
    ),
)


def redact_secrets(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``str(text)`` with credentials replaced by ``[REDACTED]``: each of ``secrets`` (the configured API key)
    wherever it appears, and anything shaped like one (``sk-...``, ``Bearer ...``, ``api_key=...``).

    Applied to every error text that dysen keeps (provenance, annotation summaries) or logs."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
    for pattern, repl in _SECRET_PATTERNS:
        out = pattern.sub(repl, out)
    return out


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

    def __init__(self, message: str, kind: str = "other", attempts: int = 1) -> None:
        self.kind = kind
        self.attempts = attempts
        super().__init__(redact_secrets(message))


class ResponseTooLargeError(BackendError):
    """A server answer is larger than the backend's ``max_response_bytes`` (it is not read further, not retried)."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message, kind="too_large", attempts=attempts)


class CassetteMissError(BackendError):
    """Replay mode: the cassette holds no answer for this request."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="cassette_miss")


class ResponseValidationError(DysenError, ValueError):
    """A model answer does not follow the expected schema; ``str(error)`` is what a repair prompt quotes."""


class DemonstrationError(DysenError, ValueError):
    """A demonstration pool file or entry is invalid (names the file, line and field)."""
