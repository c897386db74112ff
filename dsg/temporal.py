"""PyG ``TemporalData`` view of DSGs: the DSG as a stream of timestamped relation events.

Each relation that holds in frame ``t`` is one event ``(src=subject, dst=object, t=t, msg=predicate id)``
(a unary action is a self-loop with ``unary=True``). Node features ``x`` are entity-label ids. Presence
(which entity is in which frame) and attributes travel as extra index fields, so the conversion is
lossless and :func:`from_temporal_data` inverts it.

PyG 2.8's ``TemporalData`` derives ``num_nodes`` from the largest index in ``src``/``dst``: isolated
entities are invisible, batching offsets are wrong whenever the last entity has no relation, and an
empty stream crashes. :class:`DSGTemporalData` stores the entity count explicitly and uses it for
``num_nodes`` and for every index increment; :func:`collate_temporal` batches many of them (and
``torch_geometric.data.Batch.from_data_list`` works on them too).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import TemporalData

from .batching import EncodedDSG, decode, encode
from .dynamic import DynamicSceneGraph
from .errors import DSGValidationError
from .vocab import DSGVocab

__all__ = ["DSGTemporalData", "collate_temporal", "from_temporal_data", "to_temporal_data"]

_NODE_INDEXED = ("src", "dst", "pres_node", "fattr_node", "sattr_node")
_EVENT_KEYS = ("src", "dst", "t", "msg", "unary")


class DSGTemporalData(TemporalData):
    """``TemporalData`` with an explicit entity count (``num_entities``) and DSG side tables.

    Fields: ``src, dst, t, msg, unary`` (events); ``x`` (entity-label ids); ``pres_node, pres_t``
    (presence); ``fattr_node, fattr_t, fattr_id`` (frame attributes); ``sattr_node, sattr_id`` (static
    attributes); ``num_entities`` and ``num_frames`` (ints, or per-graph tensors after batching).
    """

    @property
    def num_nodes(self) -> int:  # type: ignore[override]
        n = self._store.get("num_entities")
        if n is None:
            return super().num_nodes if self.src is not None and self.src.numel() else 0
        return int(n.sum()) if isinstance(n, torch.Tensor) else int(n)

    def index_select(self, idx: Any) -> DSGTemporalData:
        """Select events (``data[2:5]``, a mask or indices); entity tables and presence are kept whole."""
        out = copy.copy(self)
        idx = torch.arange(self.num_events)[idx] if isinstance(idx, slice) else idx
        for key in _EVENT_KEYS:
            if key in out._store:
                out._store[key] = self._store[key][idx]
        return out

    def __inc__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key in _NODE_INDEXED:
            return self.num_nodes
        if key == "batch" and isinstance(value, torch.Tensor):
            return int(value.max()) + 1 if value.numel() else 0
        return 0


def to_temporal_data(dsg: DynamicSceneGraph | EncodedDSG, vocab: DSGVocab | None = None) -> DSGTemporalData:
    """The DSG as a relation-event stream (see the module docstring)."""
    enc = dsg if isinstance(dsg, EncodedDSG) else encode(dsg, _need(vocab))
    ent, frame = enc.inst_entity, enc.inst_frame
    t = torch.from_numpy
    return DSGTemporalData(
        src=t(ent[enc.edge_index[0]]),
        dst=t(ent[enc.edge_index[1]]),
        t=t(frame[enc.edge_index[0]]),
        msg=t(enc.edge_pred.copy()),
        unary=t(enc.edge_unary.copy()),
        x=t(enc.entity_label.copy()),
        pres_node=t(ent.copy()),
        pres_t=t(frame.copy()),
        fattr_node=t(ent[enc.attr[0]]),
        fattr_t=t(frame[enc.attr[0]]),
        fattr_id=t(enc.attr[1].copy()),
        sattr_node=t(enc.entity_attr[0].copy()),
        sattr_id=t(enc.entity_attr[1].copy()),
        num_entities=len(enc.entity_ids),
        num_frames=enc.num_frames,
    )


def _need(vocab: DSGVocab | None) -> DSGVocab:
    if vocab is None:
        raise DSGValidationError("vocab", None, "a vocabulary is needed to encode a DynamicSceneGraph")
    return vocab


def from_temporal_data(
    data: DSGTemporalData, vocab: DSGVocab, entity_ids: Sequence[str], **fields: Any
) -> DynamicSceneGraph:
    """Inverse of :func:`to_temporal_data` for one (unbatched) DSG; ``entity_ids`` names the nodes."""
    n_ent = int(data.num_entities)
    if len(entity_ids) != n_ent:
        raise DSGValidationError("entity_ids", len(entity_ids), f"expected {n_ent} ids")
    pres_node, pres_t = data.pres_node.numpy(), data.pres_t.numpy()
    order = np.lexsort((pres_node, pres_t))  # by frame, then entity index (= sorted ids)
    pres_node, pres_t = pres_node[order], pres_t[order]
    inst = {(int(e), int(m)): i for i, (e, m) in enumerate(zip(pres_node, pres_t))}
    pos = np.zeros_like(pres_node)
    prev = np.full_like(pres_node, -1)
    for i, (e, m) in enumerate(zip(pres_node.tolist(), pres_t.tolist())):
        pos[i] = i - np.searchsorted(pres_t, m)
        prev[i] = inst.get((e, m - 1), -1)

    def idx(nodes: torch.Tensor, ts: torch.Tensor) -> np.ndarray:
        return np.array([inst[(int(e), int(m))] for e, m in zip(nodes, ts)], dtype=np.int64)

    src_i, dst_i = idx(data.src, data.t), idx(data.dst, data.t)
    attr = np.stack([idx(data.fattr_node, data.fattr_t), data.fattr_id.numpy()]).reshape(2, -1)
    enc = EncodedDSG(
        num_frames=int(data.num_frames),
        entity_ids=tuple(entity_ids),
        entity_label=data.x.numpy(),
        entity_attr=np.stack([data.sattr_node.numpy(), data.sattr_id.numpy()]).reshape(2, -1),
        inst_entity=pres_node,
        inst_frame=pres_t,
        inst_pos=pos,
        inst_prev=prev,
        edge_index=np.stack([src_i, dst_i]).reshape(2, -1),
        edge_pred=data.msg.numpy(),
        edge_unary=data.unary.numpy(),
        attr=attr,
        node_attr=attr,
        node_attr_static=np.zeros(attr.shape[1], bool),
    )
    return decode(enc, vocab, **fields)


def collate_temporal(datas: Sequence[DSGTemporalData]) -> DSGTemporalData:
    """Concatenate event streams of several DSGs, offsetting node indices by the true entity counts.

    Adds ``event_batch`` (graph of every event), ``node_batch`` (graph of every entity) and per-graph
    ``num_entities``/``num_frames`` tensors. Events stay grouped by graph, in time order within a graph.
    """
    if not datas:
        raise DSGValidationError("datas", datas, "cannot collate an empty list")
    n_ent = torch.tensor([int(d.num_entities) for d in datas])
    offs = torch.cumsum(n_ent, 0) - n_ent
    out: dict[str, Any] = {}
    keys = [k for k in datas[0].keys() if k not in ("num_entities", "num_frames")]  # noqa: SIM118 (iter = events)
    for key in keys:
        parts = [d[key] + offs[g] if key in _NODE_INDEXED else d[key] for g, d in enumerate(datas)]
        out[key] = torch.cat(parts)
    n_events = torch.tensor([d.src.numel() for d in datas])
    out["event_batch"] = torch.repeat_interleave(torch.arange(len(datas)), n_events)
    out["node_batch"] = torch.repeat_interleave(torch.arange(len(datas)), n_ent)
    out["num_entities"] = n_ent
    out["num_frames"] = torch.tensor([int(d.num_frames) for d in datas])
    return DSGTemporalData(**out)
