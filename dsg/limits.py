"""Resource limits on untrusted input, checked before anything is allocated.

A few hundred bytes of JSON (``"repeat": 10**9``), one event (``Event(end=10**12)``) or one argument
(``align(dsg, 2**31)``) would otherwise ask for gigabytes. Every reader and constructor of :mod:`dsg`
compares the sizes it is about to allocate with these limits and raises
:class:`~dsg.errors.DSGLimitError` (naming the field, the value and the limit) when one is exceeded.

The limits are module attributes, read at every check, so a program that needs more can raise them::

    import dsg.limits
    dsg.limits.MAX_FRAMES = 1_000_000

Attributes:
    MAX_FRAMES: most frames (time steps) of a DSG, and the largest event time, ``num_frames`` of
        :func:`~dsg.align` / :func:`~dsg.frame_map` and total ``"repeat"`` of a JSON document.
    MAX_JSON_BYTES: largest JSON document (one file, or one line of a JSON Lines file), in bytes.
    MAX_JSON_DEPTH: deepest nesting of JSON arrays and objects (a DSG document needs 5).
"""

from __future__ import annotations

from .errors import DSGLimitError

__all__ = ["MAX_FRAMES", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "check_limit"]

MAX_FRAMES = 100_000
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 32


def check_limit(field: str, value: int, limit: int) -> int:
    """Return ``value``, or raise :class:`~dsg.errors.DSGLimitError` when it exceeds ``limit``."""
    if value > limit:
        raise DSGLimitError(field, value, limit)
    return value
