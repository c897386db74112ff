"""Per-frame scene-graph types: :class:`Entity`, :class:`Relation`, :class:`SceneGraph`.

A scene graph (paper §3.2) has three kinds of nodes: objects, attributes and relations. Here objects
are referenced by *entity ids* that stay the same across the frames of a dynamic scene graph
(temporal consistency), attributes are ``(entity_id, attribute)`` pairs and relations are
``subject --predicate--> object`` triplets between entity ids.

A relation may have no object (``Relation("dog", "jump")``): intransitive actions such as the
paper's event triplets with an empty target. Graph encodings store it as a self-loop flagged
*unary*, so a genuine reflexive relation (``x --look at--> x``) stays distinguishable.

All types are immutable, hashable and validated at construction; collections are deduplicated and
stored sorted (set semantics, canonical order), so equal graphs compare and hash equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import DSGValidationError
from .labels import normalize_label

__all__ = ["Entity", "Relation", "SceneGraph", "as_tuple", "entity_table"]


def as_tuple(field_name: str, value: object, frame: int | None = None) -> tuple[Any, ...]:
    """``value`` as a tuple; :class:`DSGValidationError` unless it is a non-string iterable.

    A string is refused rather than taken as its characters (``"red"`` is not ``("r", "e", "d")``).
    """
    if isinstance(value, str | bytes | bytearray):
        raise DSGValidationError(field_name, value, "must be a collection, not a string", frame)
    try:
        return tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise DSGValidationError(field_name, value, "must be a collection", frame) from None


def _nonempty(field_name: str, value: object, frame: int | None = None, *, entity: bool = False) -> str:
    if not isinstance(value, str):
        raise DSGValidationError(field_name, value, "must be a string", frame)
    norm = normalize_label(value, entity=entity)
    if not norm:
        raise DSGValidationError(field_name, value, "must not be empty", frame)
    return norm


def _entity_id(field_name: str, value: object, frame: int | None = None) -> str:
    if not isinstance(value, str):
        raise DSGValidationError(field_name, value, "entity id must be a string", frame)
    out = " ".join(value.split())
    if not out:
        raise DSGValidationError(field_name, value, "entity id must not be empty", frame)
    return out


@dataclass(frozen=True, order=True)
class Entity:
    """An object node with an id that is stable across frames.

    Args:
        id: identifier, unique within a DSG (``"woman"``, ``"circle#2"``). Whitespace is collapsed but
            case is kept: ids are names, not labels.
        label: category label (``"bottle of water"``), normalised with :func:`~dsg.labels.normalize_label`.
            Defaults to the id with any ``#suffix`` removed.
        attributes: static attributes that hold in every frame (``{"red", "small"}``).
    """

    id: str
    label: str = ""
    attributes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        ident = _entity_id("entity.id", self.id)
        object.__setattr__(self, "id", ident)
        label = ident.split("#", 1)[0] if isinstance(self.label, str) and not self.label else self.label
        object.__setattr__(self, "label", _nonempty("entity.label", label, entity=True))
        attrs = as_tuple("entity.attributes", self.attributes)
        object.__setattr__(self, "attributes", tuple(sorted({_nonempty("entity.attributes", a) for a in attrs})))


@dataclass(frozen=True)
class Relation:
    """A ``subject --predicate--> object`` triplet between entity ids; ``object=None`` for unary actions."""

    subject: str
    predicate: str
    object: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", _entity_id("relation.subject", self.subject))
        object.__setattr__(self, "predicate", _nonempty("relation.predicate", self.predicate))
        if self.object is not None:
            object.__setattr__(self, "object", _entity_id("relation.object", self.object))

    @property
    def is_unary(self) -> bool:
        return self.object is None

    def __lt__(self, other: Relation) -> bool:  # None-safe canonical order
        return _rel_key(self) < _rel_key(other)


def _rel_key(r: Relation) -> tuple[str, str, str, int]:
    return (r.subject, r.predicate, r.object or "", r.object is None)


@dataclass(frozen=True)
class SceneGraph:
    """The scene graph of one frame.

    Args:
        objects: ids of the entities present in the frame. Entities used by ``attributes`` or
            ``relations`` are added automatically.
        attributes: ``(entity_id, attribute)`` pairs that hold in this frame.
        relations: triplets that hold in this frame.

    Collections are deduplicated and stored sorted.
    """

    objects: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    relations: tuple[Relation, ...] = ()

    def __post_init__(self) -> None:
        objs = {_entity_id("scene_graph.objects", o) for o in as_tuple("scene_graph.objects", self.objects)}
        attrs = set()
        for pair in as_tuple("scene_graph.attributes", self.attributes):
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise DSGValidationError("scene_graph.attributes", pair, "must be (entity_id, attribute) pairs")
            ent = _entity_id("attribute.entity", pair[0])
            attrs.add((ent, _nonempty("attribute.value", pair[1])))
            objs.add(ent)
        rels = set()
        for rel in as_tuple("scene_graph.relations", self.relations):
            if isinstance(rel, tuple | list) and len(rel) in (2, 3):
                rel = Relation(*rel)
            if not isinstance(rel, Relation):
                raise DSGValidationError("scene_graph.relations", rel, "must be Relation or (s, p[, o]) tuples")
            rels.add(rel)
            objs.add(rel.subject)
            if rel.object is not None:
                objs.add(rel.object)
        object.__setattr__(self, "objects", tuple(sorted(objs)))
        object.__setattr__(self, "attributes", tuple(sorted(attrs)))
        object.__setattr__(self, "relations", tuple(sorted(rels, key=_rel_key)))

    # -- convenience -------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        relations: Iterable[Relation | tuple[str, ...]] = (),
        attributes: Iterable[tuple[str, str]] = (),
        objects: Iterable[str] = (),
    ) -> SceneGraph:
        return cls(tuple(objects), tuple(attributes), tuple(relations))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.relations)

    @property
    def is_empty(self) -> bool:
        return not (self.objects or self.attributes or self.relations)

    def attributes_of(self, entity_id: str) -> tuple[str, ...]:
        return tuple(a for e, a in self.attributes if e == entity_id)

    def with_relations(self, add: Iterable[Relation] = (), remove: Iterable[Relation] = ()) -> SceneGraph:
        """A copy with relations added/removed (entities of removed relations stay present)."""
        drop = set(remove)
        rels = tuple(r for r in self.relations if r not in drop) + tuple(add)
        return SceneGraph(self.objects, self.attributes, rels)

    def union(self, other: SceneGraph) -> SceneGraph:
        return SceneGraph(
            self.objects + other.objects, self.attributes + other.attributes, self.relations + other.relations
        )


def entity_table(entities: Iterable[object], used_ids: Iterable[str], field_name: str) -> tuple[Entity, ...]:
    """Validate an entity table, add a default :class:`Entity` for every used id it lacks, sort it by id.

    Raises :class:`DSGValidationError` (naming ``field_name``) for non-entities and for two different
    entities with one id.
    """
    table: dict[str, Entity] = {}
    for ent in as_tuple(field_name, entities):
        if not isinstance(ent, Entity):
            raise DSGValidationError(field_name, ent, "must be Entity objects")
        if ent.id in table and table[ent.id] != ent:
            raise DSGValidationError(field_name, ent.id, "duplicate entity id with different contents")
        table[ent.id] = ent
    for ident in used_ids:
        if ident not in table:
            table[ident] = Entity(ident)
    return tuple(sorted(table.values(), key=lambda e: e.id))
