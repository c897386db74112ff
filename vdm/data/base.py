"""The shared machinery of the video-text datasets: records, clip decoding, error policy, DSG lookup."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from .clips import ClipSampling, read_clip
from .dsg_index import DSGIndex
from .errors import DataError, VideoDecodeError

__all__ = ["VideoRecord", "VideoTextDataset"]


@dataclass(frozen=True)
class VideoRecord:
    """One sample before decoding.

    Args:
        key: the video's id in its dataset.
        paths: candidate files, the first that exists is read (e.g. ``.mp4`` then ``.webm``).
        captions: every caption of the sample; the first is *the* caption.
        window: ``(start, end)`` seconds the clip is taken from (``None``: the whole video).
        whole_window: take the keyframes evenly over the whole window instead of a ``clip_seconds`` clip.
        extra: dataset-specific fields added to the item (label, timestamps, ...).
    """

    key: str
    paths: tuple[Path, ...]
    captions: tuple[str, ...]
    window: tuple[float, float] | None = None
    whole_window: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def path(self) -> Path:
        for p in self.paths:
            if p.is_file():
                return p
        return self.paths[0]


class VideoTextDataset(Dataset):
    """A map-style dataset of :class:`VideoRecord` s, decoded on access.

    Args:
        records: the samples.
        sampling: keyframes, clip length and size (:class:`~vdm.data.clips.ClipSampling`; default the
            paper's 16 frames from 2 seconds at 256×256).
        on_error: ``"raise"``: a missing or corrupt video raises :class:`~vdm.data.errors.VideoDecodeError`
            naming the file. ``"skip"``: the failure is recorded in :attr:`failures`, warned about once per
            file, and the next readable sample is returned in its place, so an epoch keeps its length
            and every other sample.
        dsgs: a JSONL file (or :class:`~vdm.data.dsg_index.DSGIndex`) of precomputed DSGs; each item gets
            the DSG of its video key or caption under ``"dsg"`` (``None`` when there is none).
        seed: seed of the random clip positions (``sampling.position == "random"``).

    Items are dicts with ``video`` (``(F, 3, S, S)`` uint8), ``caption``, ``captions``, ``key``, ``path``,
    ``dsg`` and the record's extra fields. Batch them with :func:`vdm.data.collate_samples`.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        *,
        sampling: ClipSampling | None = None,
        on_error: str = "raise",
        dsgs: str | os.PathLike[str] | DSGIndex | None = None,
        seed: int = 0,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.records = list(records)
        self.sampling = sampling or ClipSampling()
        self.on_error = on_error
        self.dsgs = dsgs if isinstance(dsgs, DSGIndex) or dsgs is None else DSGIndex(dsgs)
        self.seed = seed
        self.failures: list[tuple[int, str, str]] = []
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int) -> dict[str, Any]:
        """Decode record ``index`` (raises :class:`VideoDecodeError` on a bad file, whatever ``on_error``)."""
        rec = self.records[index]
        sampling = self.sampling
        if rec.whole_window:
            sampling = ClipSampling(sampling.num_frames, None, sampling.size, sampling.position)
        rng = np.random.default_rng([self.seed, index])
        path = rec.path()
        video = read_clip(path, sampling, window=rec.window, rng=rng)
        caption = rec.captions[0] if rec.captions else ""
        item = {
            "video": video,
            "caption": caption,
            "captions": list(rec.captions),
            "key": rec.key,
            "path": str(path),
            "dsg": self.dsgs.get(rec.key, caption) if self.dsgs is not None else None,
        }
        item.update(rec.extra)
        return item

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        index %= n
        if self.on_error == "raise":
            return self.load(index)
        for step in range(n):
            k = (index + step) % n
            try:
                return self.load(k)
            except VideoDecodeError as exc:
                self.failures.append((k, exc.path, exc.reason))
                if exc.path not in self._warned:
                    self._warned.add(exc.path)
                    warnings.warn(f"skipping sample {k}: {exc}", RuntimeWarning, stacklevel=2)
        raise DataError(f"none of the {n} videos of this dataset could be read; see .failures")
