"""Small helpers shared by the loaders: local-file checks, TorchScript detection, device lookup."""

from __future__ import annotations

import hashlib
import os
import zipfile
from typing import Any

import torch

from .errors import WeightsFormatError, WeightsNotFoundError

__all__ = ["check_weights_file", "device_of", "is_torchscript_archive", "sha256_of"]


def sha256_of(path: str) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights_file(path: str | os.PathLike, what: str, sha256: str | None = None) -> str:
    """``path`` as a string after checking that it is a local file (and, if given, its SHA-256)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsNotFoundError(f"{what} not found at {path!r} (nothing is downloaded; see docs/metrics.md)")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            raise WeightsFormatError(f"SHA-256 of {path!r} is {actual}, expected {sha256}")
    return path


def is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript zip (``torch.jit.save``), as opposed to a ``torch.save`` archive."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())


def device_of(module: Any) -> torch.device:
    """Device of a module's first parameter (CPU for parameter-less modules and plain callables)."""
    try:
        return next(module.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")
