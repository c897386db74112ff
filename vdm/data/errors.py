"""Typed errors of the dataset loaders; each names the file (and line or record) that is wrong."""

from __future__ import annotations

import os

__all__ = ["AnnotationError", "DataError", "VideoDecodeError"]


class DataError(Exception):
    """Base class of the errors raised by :mod:`vdm.data`."""


class VideoDecodeError(DataError, OSError):
    """A video file is missing, unreadable or has no decodable video frames."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot read video {self.path}: {reason}")


class AnnotationError(DataError, ValueError):
    """An annotation file (CSV, JSON, split list) does not have the expected layout."""

    def __init__(self, path: str | os.PathLike[str], where: str, reason: str) -> None:
        self.path = os.fspath(path)
        self.where = where
        self.reason = reason
        loc = f" ({where})" if where else ""
        super().__init__(f"{self.path}{loc}: {reason}")
