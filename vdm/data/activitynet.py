"""ActivityNet Captions (Krishna et al., ICCV 2017): paragraphs of sentences with time spans.

``{video_id: {"duration": seconds, "timestamps": [[start, end], ...], "sentences": [...]}}``. Besides
the video dataset, :func:`read_activitynet_captions` gives the paragraphs alone, with their sentences
in the order they are written and the order their events happen (by start time): the gold event
order for evaluating a planner (paper Step I).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import VideoRecord, VideoTextDataset
from .errors import AnnotationError

__all__ = ["ActivityNetCaptions", "ActivityNetParagraph", "read_activitynet_captions"]

_SUFFIXES = (".mp4", ".mkv", ".webm")


@dataclass(frozen=True)
class ActivityNetParagraph:
    """One annotated video: sentences as written, each with its span ``(start, end)`` in seconds."""

    video_id: str
    duration: float
    sentences: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]

    @property
    def text(self) -> str:
        """The paragraph: the sentences as written, in mention order."""
        return " ".join(s.strip() for s in self.sentences)

    @property
    def physical_order(self) -> tuple[int, ...]:
        """Sentence indices sorted by when their events happen (start, then end, then mention)."""
        return tuple(sorted(range(len(self.spans)), key=lambda i: (self.spans[i][0], self.spans[i][1], i)))


def read_activitynet_captions(path: str | os.PathLike[str]) -> list[ActivityNetParagraph]:
    """The paragraphs of an ActivityNet Captions JSON file (errors name the file and video id)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "", "no such annotation file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AnnotationError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise AnnotationError(path, "", "expected an object {video_id: {duration, timestamps, sentences}}")
    out = []
    for vid, ann in data.items():
        if not isinstance(ann, dict) or not {"duration", "timestamps", "sentences"} <= set(ann):
            raise AnnotationError(path, vid, "needs 'duration', 'timestamps' and 'sentences'")
        stamps, sents = ann["timestamps"], ann["sentences"]
        if not isinstance(stamps, list) or not isinstance(sents, list) or len(stamps) != len(sents):
            raise AnnotationError(path, vid, f"{len(stamps)} timestamps for {len(sents)} sentences")
        spans = []
        for k, span in enumerate(stamps):
            if not (isinstance(span, list | tuple) and len(span) == 2) or float(span[1]) < float(span[0]):
                raise AnnotationError(
                    path, f"{vid} timestamps[{k}]", f"expected [start, end] with start <= end, got {span!r}"
                )
            spans.append((float(span[0]), float(span[1])))
        out.append(ActivityNetParagraph(vid, float(ann["duration"]), tuple(str(s) for s in sents), tuple(spans)))
    return out


def _paths(root: Path, vid: str) -> tuple[Path, ...]:
    names = [vid] + ([vid[2:]] if vid.startswith("v_") else [f"v_{vid}"])
    return tuple(root / f"{n}{suffix}" for n in names for suffix in _SUFFIXES)


class ActivityNetCaptions(VideoTextDataset):
    """ActivityNet Captions clips (see :class:`~vdm.data.base.VideoTextDataset` for options).

    Args:
        annotations: the JSON file; video_root: folder of ``<video_id>.mp4`` (or ``.mkv``/``.webm``, with or
            without the ``v_`` prefix).
        mode: ``"sentence"``: one item per sentence, the clip taken in the middle of its span;
            ``"paragraph"``: one item per video, its paragraph as caption and the keyframes spread evenly
            over the annotated span (a 2-second clip cannot show a paragraph of events).

    Items carry ``timestamps`` (sentence spans in seconds) and ``physical_order``; in sentence mode also
    ``sentence_index``.
    """

    def __init__(
        self,
        annotations: str | os.PathLike[str],
        video_root: str | os.PathLike[str],
        *,
        mode: str = "sentence",
        **kwargs: Any,
    ) -> None:
        if mode not in ("sentence", "paragraph"):
            raise ValueError(f"mode must be 'sentence' or 'paragraph', got {mode!r}")
        root = Path(video_root)
        self.paragraphs = read_activitynet_captions(annotations)
        records = []
        for par in self.paragraphs:
            paths = _paths(root, par.video_id)
            extra = {"timestamps": [list(s) for s in par.spans], "physical_order": list(par.physical_order)}
            if mode == "paragraph":
                window = (min(s for s, _ in par.spans), max(e for _, e in par.spans)) if par.spans else None
                records.append(VideoRecord(par.video_id, paths, (par.text,), window, True, extra))
            else:
                for k, (sent, span) in enumerate(zip(par.sentences, par.spans)):
                    records.append(
                        VideoRecord(par.video_id, paths, (sent.strip(),), span, False, {**extra, "sentence_index": k})
                    )
        super().__init__(records, **kwargs)
