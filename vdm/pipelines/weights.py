"""Pickle-format weight files in a pipeline folder are read as data, never run.

``save_pretrained(..., safe_serialization=False)`` writes diffusers' ``diffusion_pytorch_model.bin`` (and
transformers' ``pytorch_model.bin``): Python pickles. Unpickling an arbitrary pickle runs code chosen by whoever
wrote the file, so a folder from someone else must not be unpickled. diffusers and transformers read these files
with ``torch.load(weights_only=True)``, PyTorch's restricted unpickler (tensors, numbers, strings and plain
containers only); :func:`check_weight_files` runs that same reader over every such file of a local folder
*before* anything is loaded and turns a refusal into one typed error, :class:`UnsafeWeightsError`, naming the
file, instead of diffusers' generic "Unable to load weights". Safetensors files need no check (they hold no code).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["PICKLE_SUFFIXES", "UnsafeWeightsError", "check_weight_files"]

#: file endings that hold pickles (weights written by ``torch.save``)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


class UnsafeWeightsError(OSError):
    """A weight file is a pickle that ``torch.load(weights_only=True)`` refuses (it holds more than tensors and
    plain containers: loading it would run code), or that it cannot read at all.

    Attributes:
        path: the file.
        reason: what the restricted unpickler said.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"refusing to load {self.path}: it is a pickle that is not plain tensor data ({reason}). Pickle-format "
            "weights are only read with torch.load(weights_only=True), which never runs code; re-save trusted "
            "weights with save_pretrained(..., safe_serialization=True) (safetensors)"
        )


def check_weight_files(folder: Any) -> list[Path]:
    """Read every pickle-format weight file under a local ``folder`` with ``torch.load(weights_only=True)``
    (memory-mapped, on the CPU) and return their paths; anything else than a local folder (a hub id) is left to
    diffusers' own loader, which reads such files the same restricted way.

    Raises:
        UnsafeWeightsError: a file the restricted unpickler refuses.
    """
    root = Path(os.fspath(folder)) if isinstance(folder, str | os.PathLike) else None
    if root is None or not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES)
    for path in files:
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError) as exc:
            raise UnsafeWeightsError(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    return files
