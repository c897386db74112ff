"""MSR-VTT (Xu et al., CVPR 2016): 10k videos with 20 captions each.

Annotations as the official JSON (``{"videos": [{"video_id", "split", ...}], "sentences":
[{"video_id", "caption"}]}``) or as a CSV with ``video_id`` and ``sentence`` (or ``caption``) columns
(the 1k-A test list, ``MSRVTT_JSFUSION_test.csv``). Videos are ``<video_root>/<video_id>.mp4``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from .base import VideoRecord, VideoTextDataset
from .errors import AnnotationError

__all__ = ["MSRVTT", "read_msrvtt"]

_SUFFIXES = (".mp4", ".webm", ".avi", ".mkv")


def read_msrvtt(
    annotations: str | os.PathLike[str],
    video_root: str | os.PathLike[str],
    *,
    split: str | None = None,
    per_caption: bool = False,
) -> list[VideoRecord]:
    """Records of MSR-VTT annotations: one per video (all its captions; the first is *the* caption), or
    one per caption with ``per_caption=True``. ``split`` (``"train"``, ``"validate"``, ``"test"``) needs
    the JSON, whose videos carry their split."""
    path, root = Path(annotations), Path(video_root)
    if not path.is_file():
        raise AnnotationError(path, "", "no such annotation file")
    captions: dict[str, list[str]] = {}
    order: list[str] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise AnnotationError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
            raise AnnotationError(path, "", "expected an object with a 'sentences' list (and 'videos')")
        splits = {}
        for i, v in enumerate(data.get("videos", [])):
            if not isinstance(v, dict) or "video_id" not in v:
                raise AnnotationError(path, f"videos[{i}]", "needs a 'video_id'")
            splits[v["video_id"]] = v.get("split")
            order.append(v["video_id"])
        for i, sent in enumerate(data["sentences"]):
            if not isinstance(sent, dict) or "video_id" not in sent or "caption" not in sent:
                raise AnnotationError(path, f"sentences[{i}]", "needs 'video_id' and 'caption'")
            captions.setdefault(sent["video_id"], []).append(str(sent["caption"]).strip())
        if split is not None:
            if not splits or all(s is None for s in splits.values()):
                raise AnnotationError(path, "videos", f"no split information; cannot select split={split!r}")
            keep = {k for k, s in splits.items() if s == split}
            if not keep:
                raise AnnotationError(
                    path, "videos", f"no video in split {split!r}; splits are {sorted(set(splits.values()))}"
                )
            order = [k for k in order if k in keep]
        order = [k for k in order if k in captions] or [k for k in captions if split is None]
    else:
        if split is not None:
            raise AnnotationError(path, "", "a CSV carries no split; pass split=None or use the JSON")
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = set(reader.fieldnames or ())
            text_col = "sentence" if "sentence" in cols else "caption" if "caption" in cols else None
            if "video_id" not in cols or text_col is None:
                raise AnnotationError(
                    path, "header", f"needs 'video_id' and 'sentence' (or 'caption'); has {sorted(cols)}"
                )
            for line, row in enumerate(reader, start=2):
                key, text = (row["video_id"] or "").strip(), (row[text_col] or "").strip()
                if not key or not text:
                    raise AnnotationError(path, f"line {line}", "empty video_id or caption")
                if key not in captions:
                    order.append(key)
                captions.setdefault(key, []).append(text)
    records = []
    for key in order:
        paths = tuple(root / f"{key}{suffix}" for suffix in _SUFFIXES)
        caps = captions[key]
        if per_caption:
            records += [VideoRecord(key, paths, (c,), extra={"caption_index": i}) for i, c in enumerate(caps)]
        else:
            records.append(VideoRecord(key, paths, tuple(caps)))
    return records


class MSRVTT(VideoTextDataset):
    """MSR-VTT video-caption pairs (see :class:`~vdm.data.base.VideoTextDataset` for options)."""

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        video_root: str | os.PathLike[str],
        *,
        split: str | None = None,
        per_caption: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(read_msrvtt(annotations, video_root, split=split, per_caption=per_caption), **kwargs)
