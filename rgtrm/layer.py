r"""Transformer blocks around a graph operator: :class:`GraphBlock` and the RGTrm layer :class:`RGTrmLayer`.

Every encoder layer (RGTrm and the ablation baselines) is the same pre-norm residual block

.. math::
    \mathbf{h} = \mathbf{x} + \mathrm{Drop}\big(\mathrm{Conv}(\mathrm{LN}(\mathbf{x}))\big), \qquad
    \mathbf{x}' = \mathbf{h} + \mathrm{Drop}\big(\mathrm{FFN}(\mathrm{LN}(\mathbf{h}))\big),

so that ablations differ only in the operator. The paper gives eqs. 2–5 for the attention only; the
residual, LayerNorm and feed-forward sub-layer are the standard Transformer ones it builds on [65]
(pre-norm, which trains 12 layers stably without warm-up tricks).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch_geometric.typing import OptTensor

from .conv import Gate, Recurrence, RGTrmConv
from .errors import RGTrmConfigError

__all__ = ["GraphBlock", "RGTrmLayer"]


class GraphBlock(nn.Module):
    """Pre-norm residual block: graph operator, then a two-layer GELU feed-forward network.

    Args:
        conv: the graph operator, mapping ``(x, edge_index, **kwargs)`` of width ``hidden`` to ``hidden``.
        hidden: node feature size.
        ffn_hidden: inner size of the feed-forward network.
        dropout: dropout on both residual branches and inside the feed-forward network.
    """

    def __init__(self, conv: nn.Module, hidden: int, ffn_hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise RGTrmConfigError("dropout", dropout, "must be in [0, 1)")
        self.conv = conv
        self.norm_conv = nn.LayerNorm(hidden)
        self.norm_ffn = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, ffn_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn_hidden, hidden)
        )
        self.dropout = nn.Dropout(dropout)

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        self.norm_conv.reset_parameters()
        self.norm_ffn.reset_parameters()
        for mod in self.ffn:
            if isinstance(mod, nn.Linear):
                mod.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, **conv_kwargs: Any) -> Tensor:
        return self.residual(x, self.conv(self.norm_conv(x), edge_index, **conv_kwargs))

    def residual(self, x: Tensor, conv_out: Tensor) -> Tensor:
        r"""The block around the operator: :math:`\mathbf{h} = \mathbf{x} + \mathrm{Drop}(\text{conv\_out})`, then
        :math:`\mathbf{h} + \mathrm{Drop}(\mathrm{FFN}(\mathrm{LN}(\mathbf{h})))`, where ``conv_out`` is the operator
        applied to :math:`\mathrm{LN}(\mathbf{x})`."""
        h = x + self.dropout(conv_out)
        return h + self.dropout(self.ffn(self.norm_ffn(h)))


class RGTrmLayer(GraphBlock):
    """One RGTrm layer: :class:`~rgtrm.RGTrmConv` (eqs. 2–5) in a pre-norm residual block with a feed-forward net.

    Args:
        hidden: node feature size (``heads * d_k``).
        heads: attention heads :math:`k` (``hidden`` must be divisible by it).
        ffn_hidden: inner size of the feed-forward network (default ``hidden``).
        dropout: residual / feed-forward dropout.
        attention_dropout: dropout of the attention coefficients.
        recurrence: ``"paper"``, ``"scan"`` or ``"none"`` (see :class:`~rgtrm.RGTrmConv`).
        gate: ``"head"`` or ``"channel"``.
        edge_dim: size of the edge features (``None``: no edge modulation).
    """

    def __init__(
        self,
        hidden: int,
        heads: int = 8,
        ffn_hidden: int | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        recurrence: Recurrence = "paper",
        gate: Gate = "head",
        edge_dim: int | None = None,
    ) -> None:
        if heads < 1 or hidden % heads:
            raise RGTrmConfigError("heads", heads, f"must divide hidden={hidden}")
        conv = RGTrmConv(
            hidden,
            hidden // heads,
            heads=heads,
            recurrence=recurrence,
            gate=gate,
            dropout=attention_dropout,
            edge_dim=edge_dim,
        )
        super().__init__(conv, hidden, ffn_hidden or hidden, dropout)

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        edge_index: Tensor,
        prev_index: OptTensor = None,
        edge_attr: OptTensor = None,
        dst_ptr: OptTensor = None,
        chain_length: int | None = None,
    ) -> Tensor:
        # the operator called with typed arguments (no ``**kwargs``), so that the layer is scriptable
        return self.residual(x, self.conv(self.norm_conv(x), edge_index, prev_index, edge_attr, dst_ptr, chain_length))
