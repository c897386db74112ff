"""The message-passing graph that every encoder runs on, built once per batch from a ``FrameInstanceBatch``.

Relation edges of a DSG point ``subject -> object``; message passing along them alone would leave every
pure subject (``man`` in ``man --hold--> cup``) without input. The encoders therefore run on

* the relation edges (``FORWARD``; unary actions are ``UNARY`` self-loops),
* their reverses (``REVERSE``, optional), so the subject hears about its object, and
* one self-loop per instance (``SELF``, optional), so every node attends at least to itself and an entity
  without relations keeps a well-defined softmax.

Edges are sorted by target and come with the CSR pointer ``dst_ptr`` for segment reductions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from dsg import FrameInstanceBatch

__all__ = ["FORWARD", "NUM_EDGE_TYPES", "REVERSE", "SELF", "UNARY", "FrameOrder", "MessageGraph", "build_graph"]

FORWARD, REVERSE, UNARY, SELF = 0, 1, 2, 3
NUM_EDGE_TYPES = 4


@dataclass(frozen=True)
class FrameOrder:
    """Instances grouped by frame, for layers that must walk frames in order (the RGNN baseline).

    ``order`` lists instance indices sorted by frame (stable), ``counts[m]`` the instances of frame ``m``,
    ``rank[i]`` the position of instance ``i`` inside its frame group.
    """

    order: Tensor
    counts: list[int]
    rank: Tensor


@dataclass(frozen=True)
class MessageGraph:
    """Edges and per-node indices consumed by the encoder layers (all on the batch's device).

    Attributes:
        edge_index: (2, E) ``source -> target``, sorted by target.
        edge_type: (E,) one of ``FORWARD, REVERSE, UNARY, SELF``.
        edge_pred: (E,) predicate id (0 for self-loops; masked by the type embedding's role).
        dst_ptr: (N + 1,) CSR pointer of ``edge_index[1]``.
        prev_index: (N,) the same entity's instance in the previous frame, or -1.
        frame: (N,) frame of each instance within its DSG.
        num_nodes: N.
        chain_length: the batch's largest frame count (bound on predecessor chains).
    """

    edge_index: Tensor
    edge_type: Tensor
    edge_pred: Tensor
    dst_ptr: Tensor
    prev_index: Tensor
    frame: Tensor
    num_nodes: int
    chain_length: int

    @cached_property
    def frame_order(self) -> FrameOrder:
        """Instances grouped by frame (computed once per graph, on first use)."""
        order = torch.sort(self.frame, stable=True).indices
        count = torch.bincount(self.frame, minlength=self.chain_length)
        start = torch.cumsum(count, 0) - count
        rank = torch.empty_like(order)
        rank[order] = torch.arange(self.num_nodes, device=order.device) - start[self.frame[order]]
        counts = count.tolist()
        return FrameOrder(order, counts, rank)


def build_graph(batch: FrameInstanceBatch, *, reverse_edges: bool = True, self_loops: bool = True) -> MessageGraph:
    """Build the :class:`MessageGraph` of a :class:`dsg.FrameInstanceBatch`."""
    n = batch.num_instances
    src, dst = batch.edge_index
    unary = batch.edge_unary
    pred = batch.edge_pred
    parts_src, parts_dst, parts_type, parts_pred = [src], [dst], [torch.where(unary, UNARY, FORWARD)], [pred]
    if reverse_edges:
        keep = ~unary
        parts_src.append(dst[keep])
        parts_dst.append(src[keep])
        parts_type.append(torch.full_like(pred[keep], REVERSE))
        parts_pred.append(pred[keep])
    if self_loops:
        ar = torch.arange(n, device=src.device)
        parts_src.append(ar)
        parts_dst.append(ar)
        parts_type.append(torch.full_like(ar, SELF))
        parts_pred.append(torch.zeros_like(ar))
    src, dst = torch.cat(parts_src), torch.cat(parts_dst)
    etype, epred = torch.cat(parts_type), torch.cat(parts_pred)
    perm = torch.sort(dst, stable=True).indices
    src, dst, etype, epred = src[perm], dst[perm], etype[perm], epred[perm]
    dst_ptr = torch.zeros(n + 1, dtype=torch.long, device=dst.device)
    dst_ptr[1:] = torch.cumsum(torch.bincount(dst, minlength=n), 0)
    chain = int(batch.num_frames.max()) if batch.num_graphs else 0
    return MessageGraph(
        edge_index=torch.stack([src, dst]),
        edge_type=etype,
        edge_pred=epred,
        dst_ptr=dst_ptr,
        prev_index=batch.inst_prev,
        frame=batch.inst_frame,
        num_nodes=n,
        chain_length=chain,
    )
