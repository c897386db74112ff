"""A plain folder of videos with a captions file: the simplest real-data layout.

``DIR/captions.jsonl`` (one JSON object per line) or ``DIR/captions.csv`` (a header row) names, per video,
its file (field ``video``, ``path``, ``file`` or ``filename``, relative to ``DIR``), its caption (``caption``,
``text``, ``prompt`` or ``sentence``) and optionally its ``id`` (default: the file name without suffix)::

    {"id": "clip0", "video": "clip0.mp4", "caption": "a dog runs to the left, then jumps"}

The JSONL form is also what ``dysen-vdm annotate`` reads (its ``id`` and ``caption`` fields), so one file
serves both the planner and the loader.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from .base import VideoRecord, VideoTextDataset
from .errors import AnnotationError

__all__ = ["CAPTION_FILES", "VideoFolder", "find_captions_file", "read_video_folder"]

CAPTION_FILES = ("captions.jsonl", "captions.csv")
PATH_FIELDS = ("video", "path", "file", "filename")
TEXT_FIELDS = ("caption", "text", "prompt", "sentence")


def find_captions_file(root: str | os.PathLike[str]) -> Path:
    """``root/captions.jsonl`` or ``root/captions.csv`` (the first that exists)."""
    root = Path(root)
    for name in CAPTION_FILES:
        if (root / name).is_file():
            return root / name
    raise AnnotationError(root, "", f"no captions file: expected one of {list(CAPTION_FILES)} in the folder")


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return [(f"line {n}", dict(row)) for n, row in enumerate(csv.DictReader(fh), start=2)]
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(path, f"line {n}", f"invalid JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise AnnotationError(path, f"line {n}", "must be a JSON object")
        rows.append((f"line {n}", row))
    return rows


def read_video_folder(
    root: str | os.PathLike[str], captions: str | os.PathLike[str] | None = None
) -> list[VideoRecord]:
    """Records of a video folder (see the module docstring); ``captions`` overrides the captions file."""
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(root, "", "no such video folder")
    path = Path(captions) if captions is not None else find_captions_file(root)
    if not path.is_file():
        raise AnnotationError(path, "", "no such captions file")
    records, seen = [], set()
    for where, row in _rows(path):
        file = next((str(row[f]).strip() for f in PATH_FIELDS if row.get(f)), None)
        text = next((str(row[f]).strip() for f in TEXT_FIELDS if row.get(f)), None)
        if not file or not text:
            raise AnnotationError(path, where, f"needs a video field {PATH_FIELDS} and a caption field {TEXT_FIELDS}")
        key = str(row.get("id") or Path(file).stem)
        if key in seen:
            raise AnnotationError(path, where, f"duplicate id {key!r}")
        seen.add(key)
        records.append(VideoRecord(key, (root / file,), (text,)))
    if not records:
        raise AnnotationError(path, "", "lists no video")
    return records


class VideoFolder(VideoTextDataset):
    """Videos of a folder with their captions (see :class:`~vdm.data.base.VideoTextDataset` for options)."""

    def __init__(
        self, root: str | os.PathLike[str], captions: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(read_video_folder(root, captions), **kwargs)
