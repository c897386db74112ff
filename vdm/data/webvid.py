"""WebVid (Bain et al., ICCV 2021): a CSV of ``videoid, contentUrl, duration, page_dir, name`` and the
downloaded videos (by default ``<video_root>/<page_dir>/<videoid>.mp4``)."""

from __future__ import annotations

import csv
import os
import string
from pathlib import Path
from typing import Any

from .base import VideoRecord, VideoTextDataset
from .errors import AnnotationError

__all__ = ["WebVid", "read_webvid_csv"]


def read_webvid_csv(
    csv_path: str | os.PathLike[str],
    video_root: str | os.PathLike[str],
    *,
    path_template: str = "{page_dir}/{videoid}.mp4",
    id_column: str = "videoid",
    caption_column: str = "name",
) -> list[VideoRecord]:
    """Records of a WebVid CSV; the file is ``video_root / path_template.format(**row)``, or
    ``<videoid>.mp4`` directly under ``video_root`` when that is where it is."""
    csv_path, root = Path(csv_path), Path(video_root)
    if not csv_path.is_file():
        raise AnnotationError(csv_path, "", "no such CSV file")
    fields = {name for _, name, _, _ in string.Formatter().parse(path_template) if name}
    records = []
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = ({id_column, caption_column} | fields) - set(reader.fieldnames or ())
        if missing:
            raise AnnotationError(csv_path, "header", f"missing column(s) {sorted(missing)}; has {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            key, caption = (row.get(id_column) or "").strip(), (row.get(caption_column) or "").strip()
            if not key or not caption:
                raise AnnotationError(csv_path, f"line {line}", f"empty {id_column!r} or {caption_column!r}")
            primary = root / path_template.format(**row)
            records.append(VideoRecord(key, (primary, root / f"{key}.mp4"), (caption,)))
    return records


class WebVid(VideoTextDataset):
    """WebVid-10M / 2M video-caption pairs (see :class:`~vdm.data.base.VideoTextDataset` for options)."""

    def __init__(
        self,
        csv_path: str | os.PathLike[str],
        video_root: str | os.PathLike[str],
        *,
        path_template: str = "{page_dir}/{videoid}.mp4",
        id_column: str = "videoid",
        caption_column: str = "name",
        **kwargs: Any,
    ) -> None:
        records = read_webvid_csv(
            csv_path, video_root, path_template=path_template, id_column=id_column, caption_column=caption_column
        )
        super().__init__(records, **kwargs)
