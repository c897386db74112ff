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
that is not valid raises :class:`~dsg.errors.SchemaError` naming the line and field, and nothing but a
:class:`~dsg.errors.DSGError` (OSError aside, for a file that cannot be opened).

Untrusted input is bounded before it is allocated (:mod:`dsg.limits`): a document is at most
``MAX_JSON_BYTES`` long (each line, for JSON Lines) and ``MAX_JSON_DEPTH`` deep, and its ``"repeat"``
counts add up to at most ``MAX_FRAMES`` frames; beyond a limit, :class:`~dsg.errors.DSGLimitError`.
Files are UTF-8.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

from . import limits
from .dynamic import DynamicSceneGraph, Provenance
from .errors import DSGError, DSGLimitError, SchemaError
from .graph import Entity, Relation, SceneGraph
from .schedule import Event, EventSchedule

__all__ = [
    "SCHEMA_VERSION",
    "dsg_from_dict",
    "dsg_to_dict",
    "from_json",
    "load_json",
    "parse_json",
    "read_json_file",
    "read_jsonl",
    "save_json",
    "schedule_from_dict",
    "schedule_to_dict",
    "to_json",
    "write_jsonl",
]

SCHEMA_VERSION = "dsg/1"


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)  # linear: no backtracking
_NON_BRACKETS = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def _json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects in ``text`` (linear time, no recursion; strings are skipped)."""
    brackets = _NON_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _decode_utf8(data: bytes | bytearray) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"not UTF-8 text: {exc}") from None


def parse_json(text: str | bytes | bytearray) -> Any:
    """Parse untrusted JSON (``str``, or UTF-8 ``bytes``) within the limits of :mod:`dsg.limits`.

    Raises :class:`~dsg.errors.DSGLimitError` for a document longer than ``MAX_JSON_BYTES`` (bytes, or
    characters for a ``str``) or nested deeper than ``MAX_JSON_DEPTH``, checked before parsing, and
    :class:`~dsg.errors.SchemaError` for anything that is not UTF-8 JSON (integers too long to convert
    included).
    """
    if not isinstance(text, str | bytes | bytearray):
        raise SchemaError(f"JSON text must be str or bytes, got {type(text).__name__}")
    limits.check_limit("json.size", len(text), limits.MAX_JSON_BYTES)
    if not isinstance(text, str):
        text = _decode_utf8(text)
    limits.check_limit("json.depth", _json_depth(text), limits.MAX_JSON_DEPTH)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit; recursion: a safety net
        raise SchemaError(f"not valid JSON: {exc}") from exc


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """Parse the UTF-8 JSON file at ``path`` with :func:`parse_json`, reading at most ``MAX_JSON_BYTES + 1``
    bytes; errors are located at ``path``."""
    with Path(path).open("rb") as fh:
        data = fh.read(limits.MAX_JSON_BYTES + 1)  # one byte more: enough for parse_json to see it is too long
    try:
        return parse_json(data)
    except DSGError as exc:
        raise _located(str(path), exc) from exc


def _located(where: str, exc: DSGError) -> DSGError:
    """``exc`` prefixed with ``where`` (``file`` or ``file:line``); a limit error keeps its type."""
    if isinstance(exc, DSGLimitError):
        return exc.at(where)
    return SchemaError(f"{where}: {exc}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _get(obj: dict[str, Any], key: str, kind: type, where: str, default: Any) -> Any:
    """``obj[key]`` (``default`` when absent), which must be of JSON type ``kind``."""
    value = obj.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SchemaError(f"{where}{key} must be {_JSON_TYPES[kind]}, got {_kind(value)}: {value!r}")
    return value


def _rows(obj: dict[str, Any], key: str, where: str, sizes: tuple[int, ...], expected: str) -> list[list[Any]]:
    """The list ``obj[key]`` of lists whose lengths are in ``sizes`` (``[]`` when absent)."""
    rows = _get(obj, key, list, where, [])
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) not in sizes:
            raise SchemaError(f"{where}{key}[{i}]: expected {expected}: {row!r}")
    return rows


def _entities_to_list(entities: Iterable[Entity]) -> list[dict[str, Any]]:
    return [{"id": e.id, "label": e.label, "attributes": list(e.attributes)} for e in entities]


def _entities_from_list(rows: Any, where: str = "") -> tuple[Entity, ...]:
    if not isinstance(rows, list):
        raise SchemaError(f"{where}'entities' must be a list, got {_kind(rows)}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "id" not in row:
            raise SchemaError(f"{where}entities[{i}] must be an object with an 'id': {row!r}")
        attrs = _get(row, "attributes", list, f"{where}entities[{i}].", [])
        out.append(Entity(row["id"], row.get("label", ""), tuple(attrs)))
    return tuple(out)


def schedule_to_dict(schedule: EventSchedule) -> dict[str, Any]:
    return {
        "time_unit": schedule.time_unit,
        "entities": _entities_to_list(schedule.entities),
        "events": [[e.agent, e.predicate, e.target, e.start, e.end] for e in schedule.events],
    }


def _event_row(row: Any) -> Any:
    if isinstance(row, dict):
        return [row.get("agent"), row.get("predicate"), row.get("target"), row.get("start"), row.get("end")]
    return row


def schedule_from_dict(data: Any) -> EventSchedule:
    """Validate and build an :class:`EventSchedule` from :func:`schedule_to_dict` output."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise SchemaError("a schedule must be an object with an 'events' list")
    events = []
    for i, row in enumerate(map(_event_row, data["events"])):
        if not isinstance(row, list) or len(row) != 5:
            raise SchemaError(f"events[{i}] must be [agent, predicate, target, start, end]: {row!r}")
        events.append(Event(*row))
    entities = _entities_from_list(data.get("entities", []), "schedule.")
    return EventSchedule(tuple(events), data.get("time_unit", "v"), entities)


def _frame_to_dict(sg: SceneGraph) -> dict[str, Any]:
    return {
        "objects": list(sg.objects),
        "attributes": [list(p) for p in sg.attributes],
        "relations": [[r.subject, r.predicate, r.object] for r in sg.relations],
    }


def _frame_from_dict(data: Any, m: int) -> SceneGraph:
    if not isinstance(data, dict):
        raise SchemaError(f"frames[{m}] must be an object, got {_kind(data)}")
    where = f"frames[{m}]."
    rels = tuple(Relation(*row) for row in _rows(data, "relations", where, (2, 3), "[subject, predicate, object]"))
    attrs = tuple(tuple(pair) for pair in _rows(data, "attributes", where, (2,), "[entity, attribute]"))
    return SceneGraph(tuple(_get(data, "objects", list, where, [])), attrs, rels)


def _frames_from_list(raw_frames: Any) -> tuple[SceneGraph, ...]:
    """The frames of a document, ``"repeat"`` expanded after checking it against ``MAX_FRAMES``."""
    if not isinstance(raw_frames, list):
        raise SchemaError("'frames' must be a list")
    runs: list[tuple[int, SceneGraph]] = []
    total = 0
    for m, item in enumerate(raw_frames):
        sg = _frame_from_dict(item, m)
        repeat = _get(item, "repeat", int, f"frames[{m}].", 1)
        if repeat < 1:
            raise SchemaError(f"frames[{m}].repeat must be a positive integer, got {repeat!r}")
        limits.check_limit(f"frames[{m}].repeat", repeat, limits.MAX_FRAMES)
        total = limits.check_limit("num_frames", total + repeat, limits.MAX_FRAMES)
        runs.append((repeat, sg))
    return tuple(sg for repeat, sg in runs for _ in range(repeat))


def _provenance_from_dict(prov: Any) -> Provenance:
    if prov is None:
        return Provenance()
    if not isinstance(prov, dict):
        raise SchemaError(f"'provenance' must be an object, got {_kind(prov)}")
    return Provenance(
        _get(prov, "producer", str, "provenance.", "unknown"),
        tuple(_get(prov, "steps", list, "provenance.", [])),
        tuple(_get(prov, "degraded", list, "provenance.", [])),
        _get(prov, "meta", dict, "provenance.", {}) if prov.get("meta") is not None else {},
    )


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
    """Validate and build a DSG from :func:`dsg_to_dict` output (JSON types are checked, strings are never
    taken as lists, ``"repeat"`` is bounded by :data:`dsg.limits.MAX_FRAMES`); every error is a
    :class:`~dsg.errors.DSGError`."""
    if not isinstance(data, dict):
        raise SchemaError(f"a DSG document must be a JSON object, got {_kind(data)}")
    version = data.get("schema")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"unsupported DSG schema {version!r}; this version reads {SCHEMA_VERSION!r}")
    sched = data.get("schedule")
    return DynamicSceneGraph(
        _frames_from_list(data.get("frames")),
        _entities_from_list(data.get("entities", [])),
        data.get("text"),
        data.get("time_unit", "v"),
        None if sched is None else schedule_from_dict(sched),
        _provenance_from_dict(data.get("provenance")),
    )


def to_json(dsg: DynamicSceneGraph, *, indent: int | None = 2) -> str:
    """The JSON text of ``dsg``: readable Unicode, always encodable as UTF-8 (see :func:`_dumps`)."""
    return _dumps(dsg_to_dict(dsg), indent)


def _dumps(data: Any, indent: int | None = None) -> str:
    """``json.dumps`` keeping non-ASCII text readable, or escaping all of it when a string holds a lone
    surrogate (which UTF-8 cannot encode, but a ``\\ud800`` escape reads back exactly)."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, indent=indent)
    return text


def from_json(text: str | bytes) -> DynamicSceneGraph:
    """Parse a DSG document (``str`` or UTF-8 ``bytes``) with :func:`parse_json` and :func:`dsg_from_dict`."""
    return dsg_from_dict(parse_json(text))


def save_json(dsg: DynamicSceneGraph, path: str | os.PathLike[str]) -> Path:
    """Write ``dsg`` to ``path`` atomically (temp file + rename): an interrupted write loses nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(to_json(dsg), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_json(path: str | os.PathLike[str]) -> DynamicSceneGraph:
    """Read the DSG file at ``path``; errors are located at ``path`` (limit errors stay :class:`DSGLimitError`)."""
    data = read_json_file(path)
    try:
        return dsg_from_dict(data)
    except DSGError as exc:
        raise _located(str(path), exc) from exc


def write_jsonl(dsgs: Iterable[DynamicSceneGraph], path: str | os.PathLike[str], *, append: bool = False) -> int:
    """Write one DSG per line; returns the number written. ``append=True`` adds to an existing corpus."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as fh:
        for dsg in dsgs:
            fh.write(_dumps(dsg_to_dict(dsg)) + "\n")
            n += 1
    return n


def read_jsonl(path: str | os.PathLike[str], *, skip_invalid: bool = False) -> Iterator[DynamicSceneGraph]:
    """Yield the DSGs of a UTF-8 JSON Lines file.

    A bad line (not UTF-8, not JSON, not a valid DSG, or beyond a limit of :mod:`dsg.limits`; each line is
    a document) raises :class:`~dsg.errors.SchemaError` (or :class:`~dsg.errors.DSGLimitError`) naming
    the file and line number, or, with ``skip_invalid=True``, is skipped (a truncated last line after an
    interrupted write, for instance, even one cut inside a multi-byte character).
    """
    with Path(path).open("rb") as fh:
        for lineno, line in _numbered_lines(fh, limits.MAX_JSON_BYTES):
            if not line.strip():
                continue
            try:
                dsg = from_json(line)
            except DSGError as exc:
                if skip_invalid:
                    continue
                raise _located(f"{path}:{lineno}", exc) from exc
            yield dsg


def _numbered_lines(fh: IO[bytes], limit: int) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a binary file, reading at most ``limit + 1`` bytes of any line: a longer
    line is cut there (so that :func:`parse_json` rejects it) and the rest of it is skipped unread."""
    lineno = 0
    while line := fh.readline(limit + 1):
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
        yield lineno, line.removesuffix(b"\n")
