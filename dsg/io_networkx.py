"""networkx views of a DSG: one ``MultiDiGraph`` per frame, and a time-expanded graph.

Per-frame graph (:func:`frame_to_networkx`): nodes are entity ids with ``label`` (str) and ``attributes``
(sorted tuple: static attributes of the entity plus those of the frame, the frame's own under
``frame_attributes``); edges ``subject -> object`` keyed by predicate with ``predicate`` set; a unary
relation is a self-loop with ``unary=True``, keyed by the tuple ``(predicate, "unary")``, so that it never
collides with a reflexive relation (``x --p--> x``, keyed by the string ``p``), whatever the predicate.

Time-expanded graph (:func:`to_time_expanded`): nodes are ``(entity_id, m)``; spatial edges as above
(``kind="relation"``) and temporal edges ``(e, m) -> (e, m + 1)`` with ``kind="next"`` between instances
of the same entity in consecutive frames. It is the graph RGTrm's recurrence runs over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from .dynamic import DynamicSceneGraph, Provenance
from .errors import SchemaError
from .graph import Entity, Relation, SceneGraph, as_tuple

__all__ = ["frame_to_networkx", "from_networkx", "to_networkx", "to_time_expanded"]


def _edge_key(r: Relation) -> str | tuple[str, str]:
    """Edge key of a relation: its predicate, or ``(predicate, "unary")`` for a unary one (a self-loop)."""
    return (r.predicate, "unary") if r.object is None else r.predicate


def frame_to_networkx(dsg: DynamicSceneGraph, m: int) -> nx.MultiDiGraph:
    sg = dsg.frames[m]
    g = nx.MultiDiGraph(frame=m)
    for ident in sg.objects:
        ent = dsg.entity_table[ident]
        g.add_node(ident, label=ent.label, static_attributes=ent.attributes, frame_attributes=sg.attributes_of(ident))
    for r in sg.relations:
        dst = r.subject if r.object is None else r.object
        g.add_edge(r.subject, dst, key=_edge_key(r), predicate=r.predicate, unary=r.object is None)
    return g


def to_networkx(dsg: DynamicSceneGraph) -> list[nx.MultiDiGraph]:
    """One ``MultiDiGraph`` per frame; the graph attribute ``dsg`` of each holds the DSG-level fields
    (text, entity table, schedule, provenance), so :func:`from_networkx` is an exact inverse for DSGs with
    at least one frame (a zero-frame DSG gives an empty list, which carries no fields)."""
    graphs = [frame_to_networkx(dsg, m) for m in range(dsg.num_frames)]
    meta = {
        "text": dsg.text,
        "time_unit": dsg.time_unit,
        "entities": dsg.entities,
        "schedule": dsg.schedule,
        "provenance": dsg.provenance,
    }
    for g in graphs:
        g.graph["dsg"] = meta
    return graphs


def from_networkx(graphs: list[nx.MultiDiGraph], **fields: Any) -> DynamicSceneGraph:
    """Inverse of :func:`to_networkx`. Works on plain graphs too: a node's ``label`` defaults to its id,
    an edge's predicate to its key; ``fields`` override the DSG-level fields. Every error is a
    :class:`~dsg.errors.DSGError`."""
    frames = []
    table: dict[str, Entity] = {}
    meta: dict[str, Any] = {}
    for m, g in enumerate(as_tuple("graphs", graphs)):
        if not isinstance(g, nx.MultiDiGraph | nx.DiGraph):
            raise SchemaError(f"graph {m} must be a networkx DiGraph/MultiDiGraph, got {type(g).__name__}")
        meta = meta or _dsg_meta(g, m)
        attrs, rels = [], []
        for node, data in g.nodes(data=True):
            ident = str(node)
            ent = Entity(ident, data.get("label", ""), data.get("static_attributes", ()))
            if ident in table and table[ident] != ent:
                raise SchemaError(f"frame {m}: node {ident!r} changes label or static attributes across frames")
            table[ident] = ent
            frame_attrs = data.get("frame_attributes", data.get("attributes", ()))
            attrs += [(ident, a) for a in as_tuple(f"frame {m}: node {ident!r} frame_attributes", frame_attrs)]
        edges = (
            g.edges(keys=True, data=True) if g.is_multigraph() else ((u, v, None, d) for u, v, d in g.edges(data=True))
        )
        for u, v, key, data in edges:
            pred = data.get("predicate", key)
            if pred is None:
                raise SchemaError(f"frame {m}: edge {u!r}->{v!r} has no predicate")
            rels.append(Relation(str(u), str(pred), None if data.get("unary") else str(v)))
        frames.append(SceneGraph(tuple(str(n) for n in g.nodes), tuple(attrs), tuple(rels)))
    entities = as_tuple("graph['dsg']['entities']", meta.get("entities", ())) or tuple(table.values())
    args = {
        "text": meta.get("text"),
        "time_unit": meta.get("time_unit", "v"),
        "schedule": meta.get("schedule"),
        "provenance": meta.get("provenance") or Provenance("networkx"),
    }
    args.update(fields)
    return DynamicSceneGraph(tuple(frames), entities, **args)


def _dsg_meta(g: nx.DiGraph, m: int) -> dict[str, Any]:
    """The DSG-level fields :func:`to_networkx` stores in ``g.graph["dsg"]`` (``{}`` when there are none)."""
    meta = g.graph.get("dsg", {})
    if not isinstance(meta, Mapping):
        raise SchemaError(f"graph {m}: graph['dsg'] must be a mapping of DSG fields, got {type(meta).__name__}")
    return dict(meta)


def to_time_expanded(dsg: DynamicSceneGraph) -> nx.MultiDiGraph:
    """Time-expanded graph: nodes ``(entity_id, m)``, relation edges within frames, ``next`` edges across."""
    g = nx.MultiDiGraph(text=dsg.text, num_frames=dsg.num_frames)
    for m, sg in enumerate(dsg.frames):
        for ident in sg.objects:
            g.add_node(
                (ident, m),
                entity=ident,
                frame=m,
                label=dsg.entity_table[ident].label,
                attributes=sg.attributes_of(ident),
            )
            if m > 0 and ident in dsg.frames[m - 1].objects:
                g.add_edge((ident, m - 1), (ident, m), key="next", kind="next")
        for r in sg.relations:
            dst = r.subject if r.object is None else r.object
            g.add_edge(
                (r.subject, m),
                (dst, m),
                key=_edge_key(r),
                kind="relation",
                predicate=r.predicate,
                unary=r.object is None,
            )
    return g
