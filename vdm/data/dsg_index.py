"""Precomputed DSGs (one JSON per line, :func:`dsg.read_jsonl`) looked up by video key or caption."""

from __future__ import annotations

import os
from pathlib import Path

from dsg import DSGError, DynamicSceneGraph
from dsg.io_json import dsg_from_dict, parse_json

from .errors import AnnotationError

__all__ = ["DSGIndex"]

#: Provenance meta keys under which a DSG may name its video.
KEY_FIELDS = ("key", "video_id", "videoid", "id")


class DSGIndex:
    """DSGs of a JSONL file, by video key (the row's ``id``, as ``dysen-vdm annotate`` writes it, or
    ``provenance.meta`` ``key``/``video_id``/``videoid``/``id``) and by text (the caption the DSG was planned
    from).

    Args:
        path: the JSONL file.
        skip_invalid: skip lines that are not valid DSGs (e.g. a truncated last line) instead of raising.
    """

    def __init__(self, path: str | os.PathLike[str], *, skip_invalid: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AnnotationError(self.path, "", "no such DSG file")
        self.by_key: dict[str, DynamicSceneGraph] = {}
        self.by_text: dict[str, DynamicSceneGraph] = {}
        with self.path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = parse_json(line)
                    dsg = dsg_from_dict(row)
                except DSGError as exc:
                    if skip_invalid:
                        continue
                    raise AnnotationError(self.path, f"line {lineno}", str(exc)) from exc
                meta = dict(dsg.provenance.meta)
                for field in KEY_FIELDS:
                    if field in meta:
                        self.by_key[str(meta[field])] = dsg
                if isinstance(row.get("id"), str | int):
                    self.by_key[str(row["id"])] = dsg
                if dsg.text is not None:
                    self.by_text.setdefault(dsg.text.strip(), dsg)

    def __len__(self) -> int:
        return len(set(map(id, self.by_key.values())) | set(map(id, self.by_text.values())))

    def dsgs(self) -> list[DynamicSceneGraph]:
        """Every distinct DSG of the file."""
        out: dict[int, DynamicSceneGraph] = {}
        for d in (*self.by_key.values(), *self.by_text.values()):
            out.setdefault(id(d), d)
        return list(out.values())

    def get(self, key: str | None = None, text: str | None = None) -> DynamicSceneGraph | None:
        """The DSG of video ``key``, else the one planned from ``text``, else ``None``."""
        if key is not None and key in self.by_key:
            return self.by_key[key]
        if text is not None:
            return self.by_text.get(text.strip())
        return None
