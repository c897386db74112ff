"""Import of Action-Genome-style frame annotations (Ji et al., CVPR 2020).

Action Genome annotates sampled frames of Charades videos with the objects a person interacts with and
three kinds of person -> object relations::

    {"<video>.mp4/<frame>.png": [
        {"class": "cup/glass/bottle", "visible": true,
         "attention_relationship": ["looking_at"],
         "spatial_relationship": ["in_front_of"],
         "contacting_relationship": ["holding"]}, ...], ...}

The official release is a Python pickle; :mod:`dsg` never unpickles files (unpickling runs code). Load
a file you trust yourself and pass the dict to :func:`from_action_genome`, or convert it once to JSON
and use :func:`load_action_genome_json`.

Entities are ``"person"`` and one entity per object class (Action Genome has at most one instance of a
class per frame); class names like ``"cup/glass/bottle"`` keep their slashes as the label, predicates
get underscores turned into spaces (``"looking_at"`` -> ``"looking at"``). Frames are ordered by their
frame number; invisible objects are skipped. Class names and predicates must be strings and each
relation kind a list of them (a bare string is refused, not split into letters); every error is a
:class:`~dsg.errors.DSGError`, and the JSON reader applies the limits of :mod:`dsg.limits`.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from .dynamic import DynamicSceneGraph, Provenance
from .errors import SchemaError
from .graph import Entity, Relation, SceneGraph
from .io_json import read_json_file

__all__ = ["RELATION_KINDS", "from_action_genome", "load_action_genome_json"]

RELATION_KINDS = ("attention_relationship", "spatial_relationship", "contacting_relationship")
_FRAME_NO = re.compile(r"(\d+)(?=\.\w+$)|(\d+)$")


def _split_key(key: object) -> tuple[str, int]:
    if not isinstance(key, str) or "/" not in key:
        raise SchemaError(f"Action Genome key must look like '<video>/<frame>.png', got {key!r}")
    video, frame = key.split("/", 1)
    match = _FRAME_NO.search(frame)
    if match is None:
        raise SchemaError(f"no frame number in Action Genome key {key!r}")
    return video, int(match.group(1) or match.group(2))


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SchemaError(f"{where} must be a string, got {type(value).__name__}: {value!r}")
    return value


def _predicates(value: object, where: str) -> tuple[str, ...]:
    """The predicates of one relation kind: a list of strings (``None`` or absent: none)."""
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise SchemaError(f"{where} must be a list of predicates, got {type(value).__name__}: {value!r}")
    return tuple(_string(pred, f"{where}[{j}]") for j, pred in enumerate(value))


def from_action_genome(
    annotations: Mapping[str, Sequence[Mapping[str, Any]]], *, subject: str = "person"
) -> dict[str, DynamicSceneGraph]:
    """Build one DSG per video from Action-Genome-style frame annotations (see the module docstring)."""
    if not isinstance(annotations, Mapping):
        raise SchemaError(f"expected a mapping keyed by '<video>/<frame>', got {type(annotations).__name__}")
    by_video: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key in annotations:
        video, frame_no = _split_key(key)
        by_video[video].append((frame_no, key))
    out: dict[str, DynamicSceneGraph] = {}
    for video, keys in sorted(by_video.items()):
        frames = []
        for _, key in sorted(keys):
            objs = annotations[key]
            if not isinstance(objs, Sequence) or isinstance(objs, str | bytes):
                raise SchemaError(f"{key}: expected a list of objects, got {type(objs).__name__}")
            rels, present = [], [subject]
            for i, obj in enumerate(objs):
                if not isinstance(obj, Mapping) or "class" not in obj:
                    raise SchemaError(f"{key}[{i}]: object without 'class': {obj!r}")
                if obj.get("visible", True) is False:
                    continue
                cls = _string(obj["class"], f"{key}[{i}].class")
                present.append(cls)
                for kind in RELATION_KINDS:
                    for pred in _predicates(obj.get(kind), f"{key}[{i}].{kind}"):
                        rels.append(Relation(subject, pred.replace("_", " "), cls))
            frames.append(SceneGraph(tuple(present), (), tuple(rels)))
        entities = tuple(Entity(e) for e in sorted({o for sg in frames for o in sg.objects}))
        out[video] = DynamicSceneGraph(
            tuple(frames),
            entities,
            None,
            "frame",
            None,
            Provenance("action_genome", ("import",), (), (("video", video),)),
        )
    return out


def load_action_genome_json(path: str | os.PathLike[str], *, subject: str = "person") -> dict[str, DynamicSceneGraph]:
    """Read Action-Genome-style annotations from a UTF-8 JSON file and build one DSG per video."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: expected an object keyed by '<video>/<frame>', got {type(data).__name__}")
    return from_action_genome(data, subject=subject)
