"""In-context demonstrations: the pool file format, the shipped pool, and segment (de)serialisation.

A demonstration is one worked example of all three steps of paper §4.1 for a caption: its event schedule
(Step I), the DSG built from it (Step II), the DSG after the per-segment enrichment (Step III, round 1)
and after the global polish (round 2). The pool file is JSON Lines, one demonstration per line::

    {"id": "office-bag", "caption": "A woman puts a bottle of water in her bag, then ...",
     "entities": [{"id": "woman", "label": "woman", "attributes": ["young"]}, ...],
     "events": [["woman", "put", "bottle of water", 0, 1], ...],
     "dsg": {"schema": "dsg/1", ...},
     "enriched": [{"start": 0, "end": 1, "relations": [["woman", "put", "bottle of water"], ...],
                   "attributes": [["bag", "open"]]}, ...],
     "polished": [...same layout...],
     "tags": ["everyday", "sequence"]}

``events`` use entity ids; ``entities`` may be omitted for ids whose label is the id. ``dsg`` (Step II) is
optional on reading (it is recomputed with :func:`dsg.schedule_to_dsg` and, if present, checked against
that). ``enriched`` and ``polished`` list the scene graph of each run of identical frames: they must cover
``[0, horizon)`` without gaps and every frame must keep the Step II triplets of its events (enrichment
adds and changes scene details, never the actions). :func:`load_pool` validates all of this and names the
file, line and field of any problem.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dsg import DynamicSceneGraph, Entity, Event, EventSchedule, Relation, SceneGraph, schedule_to_dsg
from dsg.errors import DSGError
from dsg.io_json import dsg_from_dict, dsg_to_dict

from .errors import DemonstrationError

__all__ = [
    "DemoPool",
    "Demonstration",
    "default_pool",
    "dsg_from_segments",
    "load_pool",
    "save_pool",
    "segments_to_list",
]

_DEFAULT = "data/demonstrations.jsonl"


def segments_to_list(d: DynamicSceneGraph) -> list[dict[str, Any]]:
    """The runs of identical frames of ``d`` as ``[{"start", "end", "relations", "attributes"}, ...]``."""
    return [
        {
            "start": seg.start,
            "end": seg.end,
            "relations": [[r.subject, r.predicate, r.object] for r in seg.graph.relations],
            "attributes": [[e, a] for e, a in seg.graph.attributes],
        }
        for seg in d.segments()
    ]


def dsg_from_segments(
    segments: Sequence[Any], base: DynamicSceneGraph, *, field_name: str = "segments"
) -> DynamicSceneGraph:
    """Frames of ``base`` replaced by ``segments`` (the :func:`segments_to_list` layout).

    The segments must cover ``[0, base.num_frames)`` in order without gaps; each frame keeps the relations
    ``base`` has in it (the Step II skeleton). Raises :class:`ValueError` naming the offending segment.
    """
    if not isinstance(segments, list | tuple):
        raise ValueError(f"{field_name} must be a list of segments")
    frames: list[SceneGraph] = []
    expected = 0
    for k, seg in enumerate(segments):
        where = f"{field_name}[{k}]"
        if not isinstance(seg, dict):
            raise ValueError(f"{where} must be an object with start, end, relations, attributes")
        start, end = seg.get("start"), seg.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise ValueError(f"{where}: start and end must be integers")
        if start != expected or end <= start or end > base.num_frames:
            raise ValueError(
                f"{where}: covers [{start}, {end}) but must start at {expected} and end after it, "
                f"at most at {base.num_frames}"
            )
        rels = []
        for j, row in enumerate(seg.get("relations") or []):
            if not isinstance(row, list | tuple) or len(row) not in (2, 3):
                raise ValueError(f"{where}.relations[{j}] must be [subject, predicate, object or null]")
            rels.append(Relation(*row))
        attrs = []
        for j, row in enumerate(seg.get("attributes") or []):
            if not isinstance(row, list | tuple) or len(row) != 2:
                raise ValueError(f"{where}.attributes[{j}] must be [entity, attribute]")
            attrs.append((row[0], row[1]))
        sg = SceneGraph(attributes=tuple(attrs), relations=tuple(rels))
        for m in range(start, end):
            frames.append(sg.union(SceneGraph(relations=base.frames[m].relations)))
        expected = end
    if expected != base.num_frames:
        raise ValueError(f"{field_name} end at {expected} but the DSG has {base.num_frames} frames")
    return base.replace(frames=tuple(frames))


@dataclass(frozen=True)
class Demonstration:
    """One worked example of Steps I-III (see the module docstring)."""

    id: str
    caption: str
    schedule: EventSchedule
    enriched: DynamicSceneGraph | None = None
    polished: DynamicSceneGraph | None = None
    tags: tuple[str, ...] = ()
    _dsg: DynamicSceneGraph | None = field(default=None, repr=False, compare=False)

    @property
    def dsg(self) -> DynamicSceneGraph:
        """The Step II DSG."""
        if self._dsg is None:
            object.__setattr__(self, "_dsg", schedule_to_dsg(self.schedule, text=self.caption))
        return self._dsg  # type: ignore[return-value]

    @classmethod
    def from_dict(cls, row: Any, where: str = "demonstration") -> Demonstration:
        if not isinstance(row, dict):
            raise DemonstrationError(f"{where}: must be a JSON object")
        for key, kind in (("id", str), ("caption", str), ("events", list)):
            if not isinstance(row.get(key), kind):
                raise DemonstrationError(f"{where}: field {key!r} must be a {kind.__name__}")
        try:
            ents = tuple(
                Entity(e["id"], e.get("label", ""), tuple(e.get("attributes", ()))) for e in row.get("entities", [])
            )
            events = []
            for k, ev in enumerate(row["events"]):
                if not isinstance(ev, list) or len(ev) != 5:
                    raise DemonstrationError(f"{where}: events[{k}] must be [agent, predicate, target, start, end]")
                events.append(Event(*ev))
            sched = EventSchedule(tuple(events), "v", ents)
            step2 = schedule_to_dsg(sched, text=row["caption"])
        except (DSGError, KeyError, TypeError) as exc:
            raise DemonstrationError(f"{where}: {exc}") from exc
        if row.get("dsg") is not None:
            try:
                stored = dsg_from_dict(row["dsg"])
            except DSGError as exc:
                raise DemonstrationError(f"{where}: field 'dsg': {exc}") from exc
            if stored.frames != step2.frames:
                raise DemonstrationError(f"{where}: field 'dsg' does not match the events (Step II)")
        out: dict[str, DynamicSceneGraph | None] = {}
        for name in ("enriched", "polished"):
            if row.get(name) is None:
                out[name] = None
                continue
            try:
                out[name] = dsg_from_segments(row[name], step2, field_name=name)
            except (ValueError, DSGError) as exc:
                raise DemonstrationError(f"{where}: {exc}") from exc
        tags = row.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise DemonstrationError(f"{where}: field 'tags' must be a list of strings")
        return cls(row["id"], row["caption"], sched, out["enriched"], out["polished"], tuple(tags), step2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "caption": self.caption,
            "entities": [
                {"id": e.id, "label": e.label, "attributes": list(e.attributes)} for e in self.schedule.entities
            ],
            "events": [[e.agent, e.predicate, e.target, e.start, e.end] for e in self.schedule.events],
            "dsg": dsg_to_dict(self.dsg),
            "enriched": None if self.enriched is None else segments_to_list(self.enriched),
            "polished": None if self.polished is None else segments_to_list(self.polished),
            "tags": list(self.tags),
        }


class DemoPool(Sequence[Demonstration]):
    """An ordered, id-unique collection of demonstrations."""

    def __init__(self, demos: Iterable[Demonstration], *, name: str = "pool") -> None:
        self._demos = tuple(demos)
        self.name = name
        seen: set[str] = set()
        for d in self._demos:
            if not isinstance(d, Demonstration):
                raise DemonstrationError(f"{name}: {d!r} is not a Demonstration")
            if d.id in seen:
                raise DemonstrationError(f"{name}: duplicate demonstration id {d.id!r}")
            seen.add(d.id)
        self._index = {d.id: k for k, d in enumerate(self._demos)}

    def __len__(self) -> int:
        return len(self._demos)

    def __getitem__(self, k):  # type: ignore[override]
        return self._demos[k]

    def __iter__(self) -> Iterator[Demonstration]:
        return iter(self._demos)

    def by_id(self, ident: str) -> Demonstration:
        return self._demos[self._index[ident]]

    def index_of(self, ident: str) -> int:
        return self._index[ident]

    @property
    def captions(self) -> list[str]:
        return [d.caption for d in self._demos]

    def fingerprint(self) -> str:
        """Hash of ids and captions: a trained selection policy is only valid for the pool it was trained on."""
        h = hashlib.sha256()
        for d in self._demos:
            h.update(d.id.encode() + b"\0" + d.caption.encode() + b"\n")
        return h.hexdigest()[:16]


def load_pool(path: str | Path | None = None) -> DemoPool:
    """Read and validate a pool file (default: the pool shipped with the package)."""
    if path is None:
        text = resources.files("dysen").joinpath(_DEFAULT).read_text(encoding="utf-8")
        name = f"dysen/{_DEFAULT}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DemonstrationError(f"cannot read demonstration pool {path}: {exc}") from exc
        name = str(path)
    demos = [Demonstration.from_dict(row, where) for where, row in jsonl_rows(text, name)]
    if not demos:
        raise DemonstrationError(f"{name}: the pool is empty")
    return DemoPool(demos, name=name)


_default: DemoPool | None = None


def default_pool() -> DemoPool:
    """The shipped pool (loaded once)."""
    global _default
    if _default is None:
        _default = load_pool()
    return _default


def save_pool(pool: Iterable[Demonstration], path: str | Path) -> Path:
    """Write demonstrations in the pool format (with the Step II ``dsg`` filled in)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for demo in pool:
            fh.write(json.dumps(demo.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def jsonl_rows(text: str, name: str) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` for every non-blank line of a JSON Lines text, ``where`` = ``"<name>:<line>"``; a line
    that is not JSON raises :class:`~dysen.errors.DemonstrationError` naming the file and line."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{name}:{lineno}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise DemonstrationError(f"{name}:{lineno}: not valid JSON ({exc})") from exc
