"""JSON and JSON Lines I/O with a versioned schema.

The document layout (``"schema": "dsg/1"``)::

    {"schema": "dsg/1", "text": ..., "time_unit": "v",
     "entities": [{"id": "woman", "label": "woman", "attributes": ["young"]}, ...],
     "frames": [{"objects": [...], "attributes": [["woman", "smiling"]],
                 "relations": [["woman", "hold", "cup"], ["dog", "jump", null]]}, ...],
     "schedule": {"time_unit": "v", "events": [["woman", "put", "bottle", 0, 1], ...]} | null,
     "provenance": {"producer": ..., "steps": [...], "degraded": [...], "meta": {...}}}

Identical consecutive frames are written once with a ``"repeat"`` count, so a 16-keyframe DSG of three
segments is three frame objects. Reading validates everything through the typed constructors; a file
that is not valid raises :class:`~dsg.errors.SchemaError` naming the line and field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .dynamic import DynamicSceneGraph, Provenance
from .errors import DSGError, SchemaError
from .graph import Entity, Relation, SceneGraph
from .schedule import Event, EventSchedule

__all__ = [
    "SCHEMA_VERSION",
    "dsg_from_dict",
    "dsg_to_dict",
    "from_json",
    "load_json",
    "read_jsonl",
    "save_json",
    "schedule_from_dict",
    "schedule_to_dict",
    "to_json",
    "write_jsonl",
]

SCHEMA_VERSION = "dsg/1"


def _entities_to_list(entities: Iterable[Entity]) -> list[dict[str, Any]]:
    return [{"id": e.id, "label": e.label, "attributes": list(e.attributes)} for e in entities]


def _entities_from_list(rows: Any) -> tuple[Entity, ...]:
    if not isinstance(rows, list):
        raise SchemaError(f"'entities' must be a list, got {type(rows).__name__}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "id" not in row:
            raise SchemaError(f"entities[{i}] must be an object with an 'id': {row!r}")
        out.append(Entity(row["id"], row.get("label", ""), tuple(row.get("attributes", ()))))
    return tuple(out)


def schedule_to_dict(schedule: EventSchedule) -> dict[str, Any]:
    return {
        "time_unit": schedule.time_unit,
        "entities": _entities_to_list(schedule.entities),
        "events": [[e.agent, e.predicate, e.target, e.start, e.end] for e in schedule.events],
    }


def schedule_from_dict(data: Any) -> EventSchedule:
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise SchemaError("a schedule must be an object with an 'events' list")
    events = []
    for i, row in enumerate(data["events"]):
        if isinstance(row, dict):
            row = [row.get("agent"), row.get("predicate"), row.get("target"), row.get("start"), row.get("end")]
        if not isinstance(row, list) or len(row) != 5:
            raise SchemaError(f"events[{i}] must be [agent, predicate, target, start, end]: {row!r}")
        events.append(Event(*row))
    return EventSchedule(tuple(events), data.get("time_unit", "v"), _entities_from_list(data.get("entities", [])))


def _frame_to_dict(sg: SceneGraph) -> dict[str, Any]:
    return {
        "objects": list(sg.objects),
        "attributes": [list(p) for p in sg.attributes],
        "relations": [[r.subject, r.predicate, r.object] for r in sg.relations],
    }


def _frame_from_dict(data: Any, m: int) -> SceneGraph:
    if not isinstance(data, dict):
        raise SchemaError(f"frames[{m}] must be an object, got {type(data).__name__}")
    rels = []
    for row in data.get("relations", []):
        if not isinstance(row, list) or len(row) not in (2, 3):
            raise SchemaError(f"frames[{m}].relations: expected [subject, predicate, object]: {row!r}")
        rels.append(Relation(*row))
    attrs = []
    for pair in data.get("attributes", []):
        if not isinstance(pair, list) or len(pair) != 2:
            raise SchemaError(f"frames[{m}].attributes: expected [entity, attribute]: {pair!r}")
        attrs.append(tuple(pair))
    return SceneGraph(tuple(data.get("objects", [])), tuple(attrs), tuple(rels))


def dsg_to_dict(dsg: DynamicSceneGraph) -> dict[str, Any]:
    """The JSON-ready dict of a DSG (see the module docstring for the layout)."""
    frames = []
    for seg in dsg.segments():
        item = _frame_to_dict(seg.graph)
        if len(seg) > 1:
            item["repeat"] = len(seg)
        frames.append(item)
    prov = dsg.provenance
    return {
        "schema": SCHEMA_VERSION,
        "text": dsg.text,
        "time_unit": dsg.time_unit,
        "entities": _entities_to_list(dsg.entities),
        "frames": frames,
        "schedule": None if dsg.schedule is None else schedule_to_dict(dsg.schedule),
        "provenance": {
            "producer": prov.producer,
            "steps": list(prov.steps),
            "degraded": list(prov.degraded),
            "meta": dict(prov.meta),
        },
    }


def dsg_from_dict(data: Any) -> DynamicSceneGraph:
    """Validate and build a DSG from :func:`dsg_to_dict` output."""
    if not isinstance(data, dict):
        raise SchemaError(f"a DSG document must be a JSON object, got {type(data).__name__}")
    version = data.get("schema")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"unsupported DSG schema {version!r}; this version reads {SCHEMA_VERSION!r}")
    raw_frames = data.get("frames")
    if not isinstance(raw_frames, list):
        raise SchemaError("'frames' must be a list")
    frames: list[SceneGraph] = []
    for m, item in enumerate(raw_frames):
        sg = _frame_from_dict(item, m)
        repeat = item.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise SchemaError(f"frames[{m}].repeat must be a positive integer, got {repeat!r}")
        frames.extend([sg] * repeat)
    prov = data.get("provenance") or {}
    sched = data.get("schedule")
    return DynamicSceneGraph(
        tuple(frames),
        _entities_from_list(data.get("entities", [])),
        data.get("text"),
        data.get("time_unit", "v"),
        None if sched is None else schedule_from_dict(sched),
        Provenance(
            prov.get("producer", "unknown"),
            tuple(prov.get("steps", ())),
            tuple(prov.get("degraded", ())),
            tuple((prov.get("meta") or {}).items()),
        ),
    )


def to_json(dsg: DynamicSceneGraph, *, indent: int | None = 2) -> str:
    return json.dumps(dsg_to_dict(dsg), indent=indent, ensure_ascii=False)


def from_json(text: str) -> DynamicSceneGraph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not valid JSON: {exc}") from exc
    return dsg_from_dict(data)


def save_json(dsg: DynamicSceneGraph, path: str | os.PathLike[str]) -> Path:
    """Write ``dsg`` to ``path`` atomically (temp file + rename): an interrupted write loses nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_json(dsg), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_json(path: str | os.PathLike[str]) -> DynamicSceneGraph:
    try:
        return from_json(Path(path).read_text(encoding="utf-8"))
    except DSGError as exc:
        raise SchemaError(f"{path}: {exc}") from exc


def write_jsonl(dsgs: Iterable[DynamicSceneGraph], path: str | os.PathLike[str], *, append: bool = False) -> int:
    """Write one DSG per line; returns the number written. ``append=True`` adds to an existing corpus."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for dsg in dsgs:
            fh.write(json.dumps(dsg_to_dict(dsg), ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: str | os.PathLike[str], *, skip_invalid: bool = False) -> Iterator[DynamicSceneGraph]:
    """Yield the DSGs of a JSON Lines file.

    A bad line raises :class:`~dsg.errors.SchemaError` naming the file and line number, or, with
    ``skip_invalid=True``, is skipped (a truncated last line after an interrupted write, for instance).
    """
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield from_json(line)
            except DSGError as exc:
                if skip_invalid:
                    continue
                raise SchemaError(f"{path}:{lineno}: {exc}") from exc
