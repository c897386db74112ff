"""Ablation baselines behind the :class:`~rgtrm.encoder.DSGEncoder` interface (paper §4.2 and Table 4).

Same inputs, edges, residual blocks and outputs as :class:`~rgtrm.RGTrmEncoder`; only the operator differs:

* :class:`RGNNEncoder` (``"rgnn"``) — recurrent space-time GNN in the style of Nicolicioiu et al. [44]:
  per-frame message passing (:class:`~torch_geometric.nn.conv.GINEConv` with edge features), then a
  GRU over each entity's chain of frames (:class:`SpaceTimeConv`). The GRU is non-linear, so it walks the
  frames one by one (a loop over frames, unlike RGTrm's parallel scan).
* :class:`TransformerEncoder` (``"transformer"``) — static graph transformer: PyG
  :class:`~torch_geometric.nn.conv.TransformerConv` with edge features, no recurrence.
* :class:`GATEncoder` (``"gat"``) — :class:`~torch_geometric.nn.conv.GATConv` with edge features.
* :class:`GCNEncoder` (``"gcn"``) — :class:`~torch_geometric.nn.conv.GCNConv`; GCN takes only scalar edge
  weights, so each edge's weight is a learned sigmoid of its features (:class:`EdgeWeightedGCNConv`).

Only RGNN links frames; the other three see each frame on its own (plus the frame encoding).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import GATConv, GCNConv, GINEConv, TransformerConv

from .encoder import DSGEncoder
from .graph import FrameOrder, MessageGraph
from .layer import GraphBlock

__all__ = [
    "EdgeWeightedGCNConv",
    "GATEncoder",
    "GCNEncoder",
    "RGNNEncoder",
    "SpaceTimeConv",
    "TransformerEncoder",
]


class SpaceTimeConv(nn.Module):
    r"""RGNN operator: message passing inside each frame, then a GRU along each entity's frames.

    .. math::
        \mathbf{s}_i = \mathrm{GINE}(\mathbf{x}, \mathbf{e})_i, \qquad
        \mathbf{h}_i = \mathrm{GRU}\big(\mathbf{s}_i,\; \mathbf{h}_{\mathrm{prev}(i)}\big),

    with :math:`\mathbf{h}_{\mathrm{prev}(i)} := \mathbf{x}_i` at a chain start.
    """

    def __init__(self, hidden: int, edge_dim: int) -> None:
        super().__init__()
        mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.space = GINEConv(mlp, edge_dim=edge_dim)
        self.time = nn.GRUCell(hidden, hidden)

    def reset_parameters(self) -> None:
        self.space.reset_parameters()
        self.time.reset_parameters()

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, prev_index: Tensor, frames: FrameOrder
    ) -> Tensor:
        s = self.space(x, edge_index, edge_attr)
        outs: list[Tensor] = []
        start = 0
        for m, count in enumerate(frames.counts):
            idx = frames.order[start : start + count]
            start += count
            h0 = x[idx]
            if m > 0 and frames.counts[m - 1] > 0 and count > 0:
                prev = prev_index[idx]
                from_prev = outs[-1][frames.rank[prev.clamp(min=0)]]
                h0 = torch.where((prev >= 0).unsqueeze(-1), from_prev, h0)
            outs.append(self.time(s[idx], h0) if count else s[idx])
        if not outs:
            return s
        return torch.zeros_like(s).index_copy(0, frames.order, torch.cat(outs))


class EdgeWeightedGCNConv(nn.Module):
    """:class:`~torch_geometric.nn.conv.GCNConv` whose scalar edge weights are ``sigmoid(w . e_ij)``."""

    def __init__(self, hidden: int, edge_dim: int) -> None:
        super().__init__()
        self.lin_weight = nn.Linear(edge_dim, 1)
        self.conv = GCNConv(hidden, hidden, add_self_loops=False)

    def reset_parameters(self) -> None:
        self.lin_weight.reset_parameters()
        self.conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        return self.conv(x, edge_index, torch.sigmoid(self.lin_weight(edge_attr)).view(-1))


class RGNNEncoder(DSGEncoder):
    """Recurrent space-time GNN baseline (the paper's "RGTrm -> RGNN" ablation, Table 4)."""

    arch = "rgnn"

    def build_layer(self) -> nn.Module:
        c = self.config
        return GraphBlock(SpaceTimeConv(c["hidden"], c["hidden"]), c["hidden"], c["ffn_hidden"], c["dropout"])

    def run_layer(self, layer: nn.Module, x: Tensor, graph: MessageGraph, edge_attr: Tensor) -> Tensor:
        return layer(x, graph.edge_index, edge_attr=edge_attr, prev_index=graph.prev_index, frames=graph.frame_order)


class TransformerEncoder(DSGEncoder):
    """Static graph transformer baseline: PyG ``TransformerConv`` (edge features on keys and values).

    PyG's default ``root_weight=True`` is kept (with ``root_weight=False`` PyG still creates an unused skip
    map); its skip map sits inside the block's residual branch.
    """

    arch = "transformer"

    def build_layer(self) -> nn.Module:
        c = self.config
        conv = TransformerConv(
            c["hidden"],
            c["hidden"] // c["heads"],
            heads=c["heads"],
            dropout=c["attention_dropout"],
            edge_dim=c["hidden"],
        )
        return GraphBlock(conv, c["hidden"], c["ffn_hidden"], c["dropout"])


class GATEncoder(DSGEncoder):
    """Graph attention baseline: PyG ``GATConv`` with edge features (self-loops come from the graph)."""

    arch = "gat"

    def build_layer(self) -> nn.Module:
        c = self.config
        conv = GATConv(
            c["hidden"],
            c["hidden"] // c["heads"],
            heads=c["heads"],
            dropout=c["attention_dropout"],
            edge_dim=c["hidden"],
            add_self_loops=False,
        )
        return GraphBlock(conv, c["hidden"], c["ffn_hidden"], c["dropout"])


class GCNEncoder(DSGEncoder):
    """Graph convolution baseline: PyG ``GCNConv`` with learned per-edge weights."""

    arch = "gcn"

    def build_layer(self) -> nn.Module:
        c = self.config
        return GraphBlock(EdgeWeightedGCNConv(c["hidden"], c["hidden"]), c["hidden"], c["ffn_hidden"], c["dropout"])
