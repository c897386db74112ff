"""UCF-101 (Soomro et al., 2012): 101 action classes in class folders, with the official three
train/test splits (``classInd.txt``, ``trainlist0{1,2,3}.txt``, ``testlist0{1,2,3}.txt``). The caption of
a video is its class name in words (``ApplyEyeMakeup`` -> ``"apply eye makeup"``), as text-to-video
work on UCF-101 prompts with class names."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import VideoRecord, VideoTextDataset
from .errors import AnnotationError

__all__ = ["UCF101", "class_to_caption", "read_ucf101"]

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def class_to_caption(name: str) -> str:
    """``"ApplyEyeMakeup"`` -> ``"apply eye makeup"``, ``"YoYo"`` -> ``"yo yo"``."""
    return _CAMEL.sub(" ", name.replace("_", " ")).lower().strip()


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise AnnotationError(path, "", "no such split file")
    return [(n, ln.strip()) for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if ln.strip()]


def read_ucf101(
    video_root: str | os.PathLike[str],
    split_dir: str | os.PathLike[str],
    *,
    split: str = "train",
    fold: int = 1,
    caption_template: str = "{}",
    class_captions: Mapping[str, str] | None = None,
) -> list[VideoRecord]:
    """Records of one official split; each has ``label`` (0-based class index) and ``class_name``."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if fold not in (1, 2, 3):
        raise ValueError(f"fold must be 1, 2 or 3, got {fold!r}")
    root, sdir = Path(video_root), Path(split_dir)
    classes: dict[str, tuple[int, str]] = {}
    ind = sdir / "classInd.txt"
    for line, text in _lines(ind):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise AnnotationError(ind, f"line {line}", f"expected '<index> <ClassName>', got {text!r}")
        classes[parts[1].lower()] = (int(parts[0]) - 1, parts[1])
    lst = sdir / f"{split}list0{fold}.txt"
    records = []
    for line, text in _lines(lst):
        parts = text.split()
        rel = parts[0]
        folder = rel.replace("\\", "/").split("/")[0]
        if folder.lower() not in classes:
            raise AnnotationError(lst, f"line {line}", f"class folder {folder!r} is not in {ind.name}")
        label, name = classes[folder.lower()]
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) - 1 != label:
            raise AnnotationError(lst, f"line {line}", f"label {parts[1]} disagrees with {ind.name} ({label + 1})")
        words = (class_captions or {}).get(name, class_to_caption(name))
        caption = caption_template.format(words)
        records.append(
            VideoRecord(Path(rel).stem, (root / rel,), (caption,), extra={"label": label, "class_name": name})
        )
    return records


class UCF101(VideoTextDataset):
    """UCF-101 clips with class-name captions (see :class:`~vdm.data.base.VideoTextDataset` for options).

    Args:
        video_root: folder holding the class folders.
        split_dir: folder of ``classInd.txt`` and the split lists (``ucfTrainTestlist``).
        split, fold: ``"train"``/``"test"`` of official split 1, 2 or 3.
        caption_template: e.g. ``"a person doing {}"``; class_captions: captions for some class names.
    """

    def __init__(
        self,
        video_root: str | os.PathLike[str],
        split_dir: str | os.PathLike[str],
        *,
        split: str = "train",
        fold: int = 1,
        caption_template: str = "{}",
        class_captions: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        records = read_ucf101(
            video_root,
            split_dir,
            split=split,
            fold=fold,
            caption_template=caption_template,
            class_captions=class_captions,
        )
        super().__init__(records, **kwargs)
