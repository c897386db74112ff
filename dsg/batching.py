"""The frame-instance view of DSGs, and fast batching of many DSGs into one graph.

RGTrm (paper eqs. 2-5) runs message passing inside each frame and a recurrence across frames over
the query of the *same entity* in the previous frame. The frame-instance graph gives both: one node
per ``(entity, frame)`` pair in which the entity is present, relation edges between instances of the
same frame, and for every instance the index of the same entity's instance in the previous frame.

Encoding a DSG (:func:`encode`) walks its Python objects once and yields a handful of small integer
arrays (:class:`EncodedDSG`), cached on the DSG per vocabulary. Batching (:func:`collate`) is then only
array concatenation plus offsets, so a batch of 1024 DSGs costs a few milliseconds
(``benchmarks/bench_collate.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from . import limits
from .dynamic import DynamicSceneGraph
from .errors import DSGValidationError
from .graph import Entity, Relation, SceneGraph
from .vocab import DSGVocab

__all__ = ["EncodedDSG", "FrameInstanceBatch", "collate", "decode", "encode"]

_I64 = np.int64


@dataclass(frozen=True)
class EncodedDSG:
    """Integer arrays of one DSG. Instance ``i`` is entity ``inst_entity[i]`` in frame ``inst_frame[i]``.

    Instances are sorted by (frame, entity id); ``inst_pos`` is the rank inside the frame,
    ``inst_prev`` the instance of the same entity in frame ``m - 1`` or -1.
    """

    num_frames: int
    entity_ids: tuple[str, ...]
    entity_label: np.ndarray  # (E,)
    entity_attr: np.ndarray  # (2, S): entity index, attribute id (static attributes)
    inst_entity: np.ndarray  # (N,)
    inst_frame: np.ndarray  # (N,)
    inst_pos: np.ndarray  # (N,)
    inst_prev: np.ndarray  # (N,)
    edge_index: np.ndarray  # (2, R) instance indices
    edge_pred: np.ndarray  # (R,)
    edge_unary: np.ndarray  # (R,) bool
    attr: np.ndarray  # (2, A): instance index, attribute id (frame attributes)
    node_attr: np.ndarray  # (2, A + S'): frame attributes, then static ones spread over their instances
    node_attr_static: np.ndarray  # (A + S',) bool

    @property
    def num_instances(self) -> int:
        return int(self.inst_entity.shape[0])


def encode(dsg: DynamicSceneGraph, vocab: DSGVocab) -> EncodedDSG:
    """Encode ``dsg`` with ``vocab`` (cached on the DSG for this vocabulary object)."""
    key = ("encoded", id(vocab))
    hit = dsg._cache.get(key)
    if hit is not None and hit[0] is vocab:
        return hit[1]
    enc = _encode(dsg, vocab)
    if vocab.frozen:  # an open vocabulary may still renumber nothing, but may grow: cache only frozen ones
        dsg._cache[key] = (vocab, enc)
    return enc


def _encode(dsg: DynamicSceneGraph, vocab: DSGVocab) -> EncodedDSG:
    ents = dsg.entities
    eidx = {e.id: i for i, e in enumerate(ents)}
    ent_label = np.fromiter((vocab.entities.index(e.label) for e in ents), _I64, len(ents))
    s_ent, s_attr = [], []
    for i, e in enumerate(ents):
        for a in e.attributes:
            s_ent.append(i)
            s_attr.append(vocab.attributes.index(a))
    i_ent, i_frame, i_pos, i_prev = [], [], [], []
    src, dst, pred, unary, a_inst, a_id = [], [], [], [], [], []
    prev_map: dict[int, int] = {}
    for m, sg in enumerate(dsg.frames):
        base = len(i_ent)
        local = {}
        cur_map = {}
        for pos, ident in enumerate(sg.objects):  # sorted ids
            e = eidx[ident]
            local[ident] = base + pos
            cur_map[e] = base + pos
            i_ent.append(e)
            i_frame.append(m)
            i_pos.append(pos)
            i_prev.append(prev_map.get(e, -1))
        for r in sg.relations:
            s = local[r.subject]
            src.append(s)
            dst.append(s if r.object is None else local[r.object])
            pred.append(vocab.predicates.index(r.predicate))
            unary.append(r.object is None)
        for ident, a in sg.attributes:
            a_inst.append(local[ident])
            a_id.append(vocab.attributes.index(a))
        prev_map = cur_map
    inst_entity = np.array(i_ent, dtype=_I64)
    attr = np.array([a_inst, a_id], dtype=_I64).reshape(2, -1)
    entity_attr = np.array([s_ent, s_attr], dtype=_I64).reshape(2, -1)
    inst_i, attr_j = np.nonzero(inst_entity[:, None] == entity_attr[0][None, :])
    static_rows = np.stack([inst_i, entity_attr[1][attr_j]]).astype(_I64)
    return EncodedDSG(
        num_frames=dsg.num_frames,
        entity_ids=tuple(e.id for e in ents),
        entity_label=ent_label,
        entity_attr=entity_attr,
        inst_entity=inst_entity,
        inst_frame=np.array(i_frame, dtype=_I64),
        inst_pos=np.array(i_pos, dtype=_I64),
        inst_prev=np.array(i_prev, dtype=_I64),
        edge_index=np.array([src, dst], dtype=_I64).reshape(2, -1),
        edge_pred=np.array(pred, dtype=_I64),
        edge_unary=np.array(unary, dtype=bool),
        attr=attr,
        node_attr=np.concatenate([attr, static_rows], axis=1),
        node_attr_static=np.concatenate([np.zeros(attr.shape[1], bool), np.ones(static_rows.shape[1], bool)]),
    )


def decode(enc: EncodedDSG, vocab: DSGVocab, **fields: Any) -> DynamicSceneGraph:
    """Inverse of :func:`encode` (exact when no label was mapped to ``<unk>``); ``enc.num_frames`` is checked
    against :data:`dsg.limits.MAX_FRAMES` before the frames are allocated."""
    limits.check_limit("num_frames", enc.num_frames, limits.MAX_FRAMES)
    ids = enc.entity_ids
    static: dict[int, list[str]] = {}
    for e, a in enc.entity_attr.T.tolist():
        static.setdefault(e, []).append(vocab.attributes.label(a))
    entities = tuple(
        Entity(ids[i], vocab.entities.label(int(lab)), tuple(static.get(i, ())))
        for i, lab in enumerate(enc.entity_label.tolist())
    )
    objs: list[list[str]] = [[] for _ in range(enc.num_frames)]
    rels: list[list[Relation]] = [[] for _ in range(enc.num_frames)]
    attrs: list[list[tuple[str, str]]] = [[] for _ in range(enc.num_frames)]
    inst_ent = enc.inst_entity.tolist()
    inst_frame = enc.inst_frame.tolist()
    for e, m in zip(inst_ent, inst_frame):
        objs[m].append(ids[e])
    for (s, d), p, u in zip(enc.edge_index.T.tolist(), enc.edge_pred.tolist(), enc.edge_unary.tolist()):
        rels[inst_frame[s]].append(
            Relation(ids[inst_ent[s]], vocab.predicates.label(p), None if u else ids[inst_ent[d]])
        )
    for i, a in enc.attr.T.tolist():
        attrs[inst_frame[i]].append((ids[inst_ent[i]], vocab.attributes.label(a)))
    frames = tuple(SceneGraph(tuple(o), tuple(a), tuple(r)) for o, a, r in zip(objs, attrs, rels))
    return DynamicSceneGraph(frames, entities, **fields)


@dataclass
class FrameInstanceBatch:
    """Many DSGs as one frame-instance graph (all tensors ``torch.long`` unless noted).

    Node (instance) level, ``N`` rows:
        ``inst_label`` entity-label id, ``inst_entity`` global entity index, ``inst_graph`` DSG index,
        ``inst_frame`` frame within its DSG, ``inst_pos`` rank inside its frame, ``inst_prev`` global
        index of the same entity's instance in the previous frame or -1, ``frame_index`` global frame
        index (``frame_ptr[g] + m``).
    Edge level, ``R`` rows: ``edge_index`` (2, R) instance indices within one frame, ``edge_pred``
        predicate id, ``edge_unary`` (bool) unary action stored as a self-loop.
    Attributes: ``attr_index`` (2, A) rows (instance, attribute id), frame attributes and the entities'
        static attributes together; ``attr_static`` (bool, A) tells them apart.
    Entities: ``entity_label`` (E,), ``entity_graph`` (E,), ``entity_attr`` (2, S) rows (entity, attribute id).
    Pointers: ``frame_ptr`` (B + 1,), ``inst_ptr`` (B + 1,), ``entity_ptr`` (B + 1,), ``edge_ptr`` (B + 1,),
        ``attr_ptr``, ``entity_attr_ptr`` (B + 1,), ``num_frames`` (B,); ``max_nodes`` the largest frame size.
    ``meta`` keeps, per DSG, the entity ids and the non-tensor fields (text, schedule, provenance) so that
    :meth:`to_dsgs` is an exact inverse.
    """

    inst_label: torch.Tensor
    inst_entity: torch.Tensor
    inst_graph: torch.Tensor
    inst_frame: torch.Tensor
    inst_pos: torch.Tensor
    inst_prev: torch.Tensor
    frame_index: torch.Tensor
    edge_index: torch.Tensor
    edge_pred: torch.Tensor
    edge_unary: torch.Tensor
    attr_index: torch.Tensor
    attr_static: torch.Tensor
    entity_label: torch.Tensor
    entity_graph: torch.Tensor
    entity_attr: torch.Tensor
    frame_ptr: torch.Tensor
    inst_ptr: torch.Tensor
    entity_ptr: torch.Tensor
    edge_ptr: torch.Tensor
    attr_ptr: torch.Tensor
    entity_attr_ptr: torch.Tensor
    num_frames: torch.Tensor
    max_nodes: int
    meta: list[dict[str, Any]]

    @property
    def num_graphs(self) -> int:
        return int(self.num_frames.shape[0])

    @property
    def num_instances(self) -> int:
        return int(self.inst_label.shape[0])

    @property
    def max_frames(self) -> int:
        return int(self.num_frames.max()) if self.num_graphs else 0

    def to(self, device: torch.device | str) -> FrameInstanceBatch:
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        for k, v in kw.items():
            if isinstance(v, torch.Tensor):
                kw[k] = v.to(device)
        return FrameInstanceBatch(**kw)

    def dense_index(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(graph, frame, pos)`` of every instance: ``out[graph, frame, pos] = h`` builds (B, F, N_max, D)."""
        return self.inst_graph, self.inst_frame, self.inst_pos

    def to_dense(self, h: torch.Tensor, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Scatter instance features ``h`` (N, D) to padded ``(B, F_max, N_max, D)`` plus a bool mask."""
        b, f, n = self.num_graphs, self.max_frames, max(self.max_nodes, 1)
        out = h.new_full((b, f, n, h.shape[-1]), fill)
        mask = torch.zeros((b, f, n), dtype=torch.bool, device=h.device)
        out[self.inst_graph, self.inst_frame, self.inst_pos] = h
        mask[self.inst_graph, self.inst_frame, self.inst_pos] = True
        return out, mask

    def frame_mask(self) -> torch.Tensor:
        """``(B, F_max)`` bool: which frames exist in each DSG."""
        ar = torch.arange(self.max_frames, device=self.num_frames.device)
        return ar[None, :] < self.num_frames[:, None]

    def encoded(self, g: int) -> EncodedDSG:
        """The :class:`EncodedDSG` of DSG ``g`` (inverse of collation)."""
        i0, i1 = int(self.inst_ptr[g]), int(self.inst_ptr[g + 1])
        e0, e1 = int(self.entity_ptr[g]), int(self.entity_ptr[g + 1])
        r0, r1 = int(self.edge_ptr[g]), int(self.edge_ptr[g + 1])
        a0, a1 = int(self.attr_ptr[g]), int(self.attr_ptr[g + 1])
        s0, s1 = int(self.entity_attr_ptr[g]), int(self.entity_attr_ptr[g + 1])
        attr = self.attr_index[:, a0:a1].numpy() - np.array([[i0], [0]])
        static = self.attr_static[a0:a1].numpy()
        inst_ent = self.inst_entity[i0:i1].numpy() - e0
        prev = self.inst_prev[i0:i1].numpy()
        return EncodedDSG(
            num_frames=int(self.num_frames[g]),
            entity_ids=self.meta[g]["entity_ids"],
            entity_label=self.entity_label[e0:e1].numpy(),
            entity_attr=self.entity_attr[:, s0:s1].numpy() - np.array([[e0], [0]]),
            inst_entity=inst_ent,
            inst_frame=self.inst_frame[i0:i1].numpy(),
            inst_pos=self.inst_pos[i0:i1].numpy(),
            inst_prev=np.where(prev >= 0, prev - i0, -1),
            edge_index=self.edge_index[:, r0:r1].numpy() - i0,
            edge_pred=self.edge_pred[r0:r1].numpy(),
            edge_unary=self.edge_unary[r0:r1].numpy(),
            attr=attr[:, ~static],
            node_attr=attr,
            node_attr_static=static,
        )

    def to_dsgs(self, vocab: DSGVocab) -> list[DynamicSceneGraph]:
        """Unbatch: decode every DSG back from the tensors (plus the non-tensor fields kept in ``meta``)."""
        out = []
        for g in range(self.num_graphs):
            fields_ = {k: v for k, v in self.meta[g].items() if k != "entity_ids"}
            out.append(decode(self.encoded(g), vocab, **fields_))
        return out


def _offsets(counts: np.ndarray) -> np.ndarray:
    ptr = np.zeros(len(counts) + 1, dtype=_I64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def collate(dsgs: Sequence[DynamicSceneGraph | EncodedDSG], vocab: DSGVocab | None = None) -> FrameInstanceBatch:
    """Batch DSGs (or already encoded ones) into one :class:`FrameInstanceBatch`.

    Static entity attributes are attached to every instance of their entity (as rows with
    ``attr_static=True``) so that a node sees its full attribute set in every frame; this spreading is
    done once per DSG at encoding time, not per batch.
    """
    if not dsgs:
        raise DSGValidationError("dsgs", dsgs, "cannot collate an empty list")
    encs: list[EncodedDSG] = []
    metas: list[dict[str, Any]] = []
    for i, d in enumerate(dsgs):
        if isinstance(d, EncodedDSG):
            encs.append(d)
            metas.append({"entity_ids": d.entity_ids})
        elif isinstance(d, DynamicSceneGraph):
            if vocab is None:
                raise DSGValidationError("vocab", None, "a vocabulary is needed to encode DynamicSceneGraphs")
            enc = encode(d, vocab)
            encs.append(enc)
            metas.append(
                {
                    "entity_ids": enc.entity_ids,
                    "text": d.text,
                    "time_unit": d.time_unit,
                    "schedule": d.schedule,
                    "provenance": d.provenance,
                }
            )
        else:
            raise DSGValidationError(f"dsgs[{i}]", type(d).__name__, "must be a DynamicSceneGraph or EncodedDSG")

    n_inst = np.fromiter((e.inst_entity.shape[0] for e in encs), _I64, len(encs))
    n_ent = np.fromiter((e.entity_label.shape[0] for e in encs), _I64, len(encs))
    n_edge = np.fromiter((e.edge_pred.shape[0] for e in encs), _I64, len(encs))
    n_frames = np.fromiter((e.num_frames for e in encs), _I64, len(encs))
    inst_ptr, ent_ptr, edge_ptr, frame_ptr = (_offsets(c) for c in (n_inst, n_ent, n_edge, n_frames))
    graph_of_inst = np.repeat(np.arange(len(encs), dtype=_I64), n_inst)
    inst_off = inst_ptr[:-1]

    inst_entity_local = np.concatenate([e.inst_entity for e in encs])
    inst_entity = inst_entity_local + np.repeat(ent_ptr[:-1], n_inst)
    inst_frame = np.concatenate([e.inst_frame for e in encs])
    inst_pos = np.concatenate([e.inst_pos for e in encs])
    prev = np.concatenate([e.inst_prev for e in encs])
    prev = np.where(prev >= 0, prev + inst_off[graph_of_inst], -1)
    entity_label = np.concatenate([e.entity_label for e in encs])
    inst_label = entity_label[inst_entity]
    edge_index = np.concatenate([e.edge_index for e in encs], axis=1) + np.repeat(inst_off, n_edge)[None, :]
    edge_pred = np.concatenate([e.edge_pred for e in encs])
    edge_unary = np.concatenate([e.edge_unary for e in encs])

    # attributes: per DSG, frame ones then static ones spread over the entity's instances
    n_attr = np.fromiter((e.node_attr.shape[1] for e in encs), _I64, len(encs))
    attr_index = np.concatenate([e.node_attr for e in encs], axis=1)
    attr_index[0] += np.repeat(inst_off, n_attr)
    attr_static = np.concatenate([e.node_attr_static for e in encs])
    n_sattr = np.fromiter((e.entity_attr.shape[1] for e in encs), _I64, len(encs))
    entity_attr = np.concatenate([e.entity_attr for e in encs], axis=1)
    entity_attr[0] += np.repeat(ent_ptr[:-1], n_sattr)

    frame_index = inst_frame + frame_ptr[:-1][graph_of_inst]
    max_nodes = int(inst_pos.max()) + 1 if inst_pos.size else 0
    t = torch.from_numpy
    return FrameInstanceBatch(
        inst_label=t(inst_label),
        inst_entity=t(inst_entity),
        inst_graph=t(graph_of_inst),
        inst_frame=t(inst_frame),
        inst_pos=t(inst_pos),
        inst_prev=t(prev),
        frame_index=t(frame_index),
        edge_index=t(np.ascontiguousarray(edge_index)),
        edge_pred=t(edge_pred),
        edge_unary=t(edge_unary),
        attr_index=t(np.ascontiguousarray(attr_index)),
        attr_static=t(attr_static),
        entity_label=t(entity_label),
        entity_graph=t(np.repeat(np.arange(len(encs), dtype=_I64), n_ent)),
        frame_ptr=t(frame_ptr),
        inst_ptr=t(inst_ptr),
        entity_ptr=t(ent_ptr),
        edge_ptr=t(edge_ptr),
        attr_ptr=t(_offsets(n_attr)),
        entity_attr=t(entity_attr),
        entity_attr_ptr=t(_offsets(n_sattr)),
        num_frames=t(n_frames),
        max_nodes=max_nodes,
        meta=metas,
    )
