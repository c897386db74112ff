"""The recurrent graph transformer operator :class:`RGTrmConv` (paper §4.2, eqs. 2–5)."""

import math
import typing
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import OptTensor
from torch_geometric.utils import softmax

from .errors import RGTrmConfigError, RGTrmInputError
from .scan import linear_recurrence, self_pointers

if typing.TYPE_CHECKING:
    from typing import overload
else:  # TorchScript compiles one typed forward per overload (as PyG's convs do)
    from torch.jit import _overload_method as overload

__all__ = ["RECURRENCE_MODES", "RGTrmConv"]

RECURRENCE_MODES = ("paper", "scan", "none")
GATE_KINDS = ("head", "channel")
Recurrence = Literal["paper", "scan", "none"]
Gate = Literal["head", "channel"]
# PyG's signature inspector (which builds the TorchScript ``propagate``) reads ``typing.Optional`` but not
# ``int | None`` in ``message``/``aggregate`` parameters.
OptInt = typing.Optional[int]  # noqa: UP045


class RGTrmConv(MessagePassing):
    r"""The recurrent graph transformer operator of Dysen-VDM (Fei et al., CVPR 2024, §4.2).

    The input is a *frame-instance graph*: one node per (entity, frame) pair, edges between instances of
    the same frame, and for every node :math:`i` the index :math:`\mathrm{prev}(i)` of the same entity's
    instance in the previous frame (``-1`` when the entity is absent there). For every head :math:`k`

    .. math::
        \mathbf{Q}_i = \mathbf{W}_Q \mathbf{x}_i, \quad
        \mathbf{K}_i = \mathbf{W}_K \mathbf{x}_i, \quad
        \mathbf{V}_i = \mathbf{W}_V \mathbf{x}_i, \quad
        \mathbf{E}_{ij} = \mathbf{W}_E \mathbf{e}_{ij} + \mathbf{b}_E

    a per-node gate (eq. 5) mixes the query with the previous frame's (eq. 4)

    .. math::
        z_i = \sigma\big(\mathbf{w}_z^{\top} (\mathbf{Q}_i \odot \mathbf{K}_i) + b_z\big), \qquad
        \hat{\mathbf{Q}}_i = (1 - z_i)\, \mathbf{Q}^{\star}_{\mathrm{prev}(i)} + z_i\, \mathbf{Q}_i,

    the edge embedding modulates the attention weights (eq. 3) and the heads are concatenated and mapped
    by :math:`\mathbf{W}_O` (eq. 2)

    .. math::
        \mathbf{w}_{ij} = \mathrm{softmax}_{j \in \mathcal{N}(i)}
            \Big(\frac{\hat{\mathbf{Q}}_i^{\top} \mathbf{K}_j}{\sqrt{d_k}}\Big) \cdot \mathbf{E}_{ij},
        \qquad
        \mathbf{x}'_i = \mathbf{W}_O \,\Big\Vert_{k=1}^{K} \sum_{j \in \mathcal{N}(i)}
            \mathbf{w}^{k}_{ij} \odot \mathbf{V}^{k}_j .

    The recurrence mode fixes :math:`\mathbf{Q}^{\star}`:

    * ``"paper"`` — eq. 4 as written: :math:`\mathbf{Q}^{\star} = \mathbf{Q}`, the *raw* query of the previous
      frame. All frames are computed in parallel; information travels one frame back per layer.
    * ``"scan"`` — truly recurrent: :math:`\mathbf{Q}^{\star} = \hat{\mathbf{Q}}`, i.e.
      :math:`\hat{\mathbf{Q}}_i = (1 - z_i) \hat{\mathbf{Q}}_{\mathrm{prev}(i)} + z_i \mathbf{Q}_i`. This is a
      linear recurrence with known coefficients, evaluated in :math:`\lceil\log_2 T\rceil` parallel steps
      by :func:`~rgtrm.scan.linear_recurrence` (no Python loop over frames); memory reaches back to the
      start of the entity's chain of consecutive frames.
    * ``"none"`` — :math:`\hat{\mathbf{Q}} = \mathbf{Q}`: a static graph transformer (ablation).

    A node without a predecessor uses its own query, :math:`\hat{\mathbf{Q}}_i = \mathbf{Q}_i`, and so
    starts a new chain in ``"scan"`` mode (the issue's reading of "an entity absent there").

    Readings chosen where the paper is ambiguous:

    * **Gate shape.** Eq. 5 writes :math:`\sigma(W_z \cdot Q \cdot K)`. We read :math:`Q \cdot K` as the
      element-wise product of the node's own query and key and :math:`W_z` as a linear map of it, shared by
      the heads of a layer (the paper gives :math:`W_z` no head index). ``gate="head"`` (default) maps to one
      scalar per node and head, which contains the literal dot-product reading as the special case
      :math:`\mathbf{w}_z \propto \mathbf{1}` and keeps the gate a per-head scalar like the attention score
      it modulates; ``gate="channel"`` maps :math:`d_k \to d_k` for a GRU-style per-channel gate.
    * **Edge modulation.** :math:`\mathbf{E}_{ij}` is a :math:`d_k`-vector per head (the paper calls it an
      embedding, and all its dimensions are 768), so the product with the scalar softmax weight is a
      per-channel weight applied to :math:`\mathbf{V}_j` element-wise. The bias :math:`\mathbf{b}_E` starts
      at one, so an untrained layer is plain attention rather than attention scaled by random signs.
      Without ``edge_dim`` there is no modulation (:math:`\mathbf{E} = 1`).
    * **Previous query.** ``"paper"`` uses the raw :math:`\mathbf{Q}_{m-1}` as printed; ``"scan"`` uses
      :math:`\hat{\mathbf{Q}}_{m-1}`, the reading under which the layer is recurrent over all past frames.
    * **Which nodes attend.** Eq. 2 sums over the in-neighbours :math:`\mathcal{N}(i)` given by
      ``edge_index`` (``source -> target``); a node with no in-edges gets a zero output. The encoders add
      self-loops and reverse edges so every node attends (see :mod:`rgtrm.graph`). Note that the gated query
      only changes the output through the softmax, so a node with a single in-edge carries no memory.

    Args:
        in_channels (int): Size of each input node feature (``-1`` for lazy initialisation).
        out_channels (int): Size :math:`d_k` of each head.
        heads (int, optional): Number of attention heads :math:`K`. (default: :obj:`1`)
        concat (bool, optional): Concatenate the heads (eq. 2) or average them. (default: :obj:`True`)
        recurrence (str, optional): ``"paper"``, ``"scan"`` or ``"none"``. (default: :obj:`"paper"`)
        gate (str, optional): ``"head"`` or ``"channel"``. (default: :obj:`"head"`)
        dropout (float, optional): Dropout of the normalised attention coefficients. (default: :obj:`0.`)
        edge_dim (int, optional): Edge feature size; ``None`` disables the edge modulation.
        bias (bool, optional): Learn additive biases in the query/key/value/output maps. (default: :obj:`True`)
        **kwargs (optional): Additional arguments of :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F_{in})`, edge indices :math:`(2, |\mathcal{E}|)`,
          predecessors :math:`(|\mathcal{V}|)` *(optional)*, edge features :math:`(|\mathcal{E}|, D)`
          *(optional)*, destination CSR pointer :math:`(|\mathcal{V}| + 1)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, K \cdot d_k)` (or :math:`d_k` without ``concat``)
    """

    _alpha: Tensor | None  # a real annotation (no postponed evaluation in this module): TorchScript reads it

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        recurrence: Recurrence = "paper",
        gate: Gate = "head",
        dropout: float = 0.0,
        edge_dim: int | None = None,
        bias: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        if recurrence not in RECURRENCE_MODES:
            raise RGTrmConfigError("recurrence", recurrence, f"must be one of {RECURRENCE_MODES}")
        if gate not in GATE_KINDS:
            raise RGTrmConfigError("gate", gate, f"must be one of {GATE_KINDS}")
        if out_channels < 1 or heads < 1:
            raise RGTrmConfigError("out_channels/heads", (out_channels, heads), "must be positive")
        if not 0.0 <= dropout < 1.0:
            raise RGTrmConfigError("dropout", dropout, "must be in [0, 1)")

        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.recurrence = recurrence
        self.gate = gate
        self.dropout = dropout
        self.edge_dim = edge_dim
        self._alpha = None

        width = heads * out_channels
        self.lin_query = Linear(in_channels, width, bias=bias)
        self.lin_key = Linear(in_channels, width, bias=bias)
        self.lin_value = Linear(in_channels, width, bias=bias)
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, width, bias=True)
        else:
            self.register_parameter("lin_edge", None)
        if recurrence != "none":
            self.lin_gate = Linear(out_channels, 1 if gate == "head" else out_channels, bias=True)
        else:
            self.register_parameter("lin_gate", None)
        out_width = width if concat else out_channels
        self.lin_out = Linear(out_width, out_width, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_query.reset_parameters()
        self.lin_key.reset_parameters()
        self.lin_value.reset_parameters()
        if self.lin_edge is not None:
            self.lin_edge.reset_parameters()
            torch.nn.init.ones_(self.lin_edge.bias)
        if self.lin_gate is not None:
            self.lin_gate.reset_parameters()
        self.lin_out.reset_parameters()

    @overload
    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        prev_index: OptTensor = None,
        edge_attr: OptTensor = None,
        dst_ptr: OptTensor = None,
        chain_length: int | None = None,
        return_attention_weights: None = None,
    ) -> Tensor: ...

    @overload
    def forward(  # noqa: F811
        self,
        x: Tensor,
        edge_index: Tensor,
        prev_index: OptTensor = None,
        edge_attr: OptTensor = None,
        dst_ptr: OptTensor = None,
        chain_length: int | None = None,
        return_attention_weights: bool = None,  # noqa: RUF013  (TorchScript overloads need a bool default, as in PyG)
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]: ...

    def forward(  # noqa: F811
        self,
        x: Tensor,
        edge_index: Tensor,
        prev_index: OptTensor = None,
        edge_attr: OptTensor = None,
        dst_ptr: OptTensor = None,
        chain_length: int | None = None,
        return_attention_weights: bool | None = None,
    ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        r"""Runs the forward pass of the module.

        Args:
            x (torch.Tensor): Node features :math:`(N, F_{in})`.
            edge_index (torch.Tensor): Edge indices :math:`(2, E)`, ``source -> target``, within frames.
            prev_index (torch.Tensor, optional): :math:`(N,)` index of each node's instance in the previous
                frame or ``-1``. ``None`` disables the recurrence (every node uses its own query).
            edge_attr (torch.Tensor, optional): Edge features :math:`(E, D)`, required with ``edge_dim``.
            dst_ptr (torch.Tensor, optional): :math:`(N + 1,)` CSR pointer of ``edge_index`` sorted by target.
                Given, softmax and aggregation run as segment reductions (``torch_scatter.segment_csr``
                when installed) instead of index scatters.
            chain_length (int, optional): Upper bound on the length of predecessor chains (the largest
                frame count); makes the ``"scan"`` step count static. Computed from ``prev_index`` if ``None``.
            return_attention_weights (bool, optional): If set, additionally returns
                ``(edge_index, alpha)`` with the softmax coefficients ``alpha`` of shape :math:`(E, K)`
                (before the edge modulation and attention dropout).
        """
        if not torch.jit.is_scripting():
            self._check_inputs(x, edge_index, prev_index, edge_attr, dst_ptr)
        H, C = self.heads, self.out_channels
        query = self.lin_query(x).view(-1, H, C)
        key = self.lin_key(x).view(-1, H, C)
        value = self.lin_value(x).view(-1, H, C)
        if prev_index is not None:
            query = self.recurrent_query(query, key, prev_index, chain_length)

        edge_scale: OptTensor = None
        if self.lin_edge is not None:
            assert edge_attr is not None
            edge_scale = self.lin_edge(edge_attr).view(-1, H, C)

        # propagate_type: (query: Tensor, key: Tensor, value: Tensor, edge_scale: typing.Optional[Tensor],
        #                  dst_ptr: typing.Optional[Tensor])
        out = self.propagate(edge_index, query=query, key=key, value=value, edge_scale=edge_scale, dst_ptr=dst_ptr)
        alpha = self._alpha
        self._alpha = None

        out = out.reshape(-1, H * C) if self.concat else out.mean(dim=1)
        out = self.lin_out(out)

        if isinstance(return_attention_weights, bool):
            assert alpha is not None
            return out, (edge_index, alpha)
        return out

    def recurrent_query(
        self, query: Tensor, key: Tensor, prev_index: Tensor, chain_length: int | None = None
    ) -> Tensor:
        r"""Eqs. 4–5: the gated query :math:`\hat{\mathbf{Q}}` of every node, shape :math:`(N, K, d_k)`.

        ``recurrence="none"`` returns ``query`` unchanged.
        """
        if self.lin_gate is None:
            return query
        z = torch.sigmoid(self.lin_gate(query * key))  # (N, H, 1) or (N, H, C)
        if self.recurrence == "paper":
            prev_query = query.index_select(0, self_pointers(prev_index))  # a chain start reads its own query
            return torch.lerp(prev_query, query, z)  # (1 - z) * Q_prev + z * Q
        z = z.masked_fill((prev_index < 0).view(-1, 1, 1), 1.0)  # a chain start keeps its own query: Q^_i = Q_i
        return linear_recurrence(1.0 - z, z * query, prev_index, chain_length)

    def message(
        self,
        query_i: Tensor,
        key_j: Tensor,
        value_j: Tensor,
        edge_scale: OptTensor,
        index: Tensor,
        dst_ptr: OptTensor,
        size_i: OptInt,
    ) -> Tensor:
        alpha = (query_i * key_j).sum(dim=-1) / math.sqrt(self.out_channels)
        alpha = softmax(alpha, index, dst_ptr, size_i)
        self._alpha = alpha
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        weight = alpha.unsqueeze(-1)
        if edge_scale is not None:
            weight = weight * edge_scale
        return weight * value_j

    def aggregate(self, inputs: Tensor, index: Tensor, dst_ptr: OptTensor = None, dim_size: OptInt = None) -> Tensor:
        return self.aggr_module(inputs, index, ptr=dst_ptr, dim_size=dim_size, dim=self.node_dim)

    @torch.jit.unused
    def _check_inputs(
        self, x: Tensor, edge_index: Tensor, prev_index: OptTensor, edge_attr: OptTensor, dst_ptr: OptTensor
    ) -> None:
        if isinstance(x, tuple | list):
            raise RGTrmInputError(
                "x",
                f"a {type(x).__name__} of {len(x)}",
                "must be one (N, F) tensor of the frame-instance graph: bipartite (x_src, x_dst) input is not "
                "supported, because eq. 5's gate needs every target node's own key and prev_index links "
                "target nodes to target nodes (build one node set, e.g. with torch.cat, and index into it)",
            )
        if not isinstance(x, Tensor):
            raise RGTrmInputError("x", type(x).__name__, "must be an (N, F) torch.Tensor")
        if not isinstance(edge_index, Tensor) or edge_index.layout != torch.strided:
            what = type(edge_index).__name__ if not isinstance(edge_index, Tensor) else str(edge_index.layout)
            raise RGTrmInputError(
                "edge_index",
                what,
                "must be a dense (2, E) torch.long tensor: edge_attr rows and the returned attention weights follow "
                "its edge order, which a sparse adjacency does not keep",
            )
        if edge_index.dim() != 2 or edge_index.size(0) != 2 or edge_index.dtype != torch.long:
            raise RGTrmInputError("edge_index", tuple(edge_index.shape), "must be a (2, E) torch.long tensor")
        if x.dim() != 2:
            raise RGTrmInputError("x", tuple(x.shape), "must be a 2-D (N, F) tensor")
        n, e = x.size(0), edge_index.size(1)
        if prev_index is not None and (prev_index.shape != (n,) or prev_index.dtype != torch.long):
            raise RGTrmInputError("prev_index", tuple(prev_index.shape), f"must be a ({n},) torch.long tensor")
        if self.lin_edge is not None:
            if edge_attr is None:
                raise RGTrmInputError(
                    "edge_attr", None, f"is required: the layer was built with edge_dim={self.edge_dim}"
                )
            if edge_attr.dim() != 2 or edge_attr.size(0) != e:
                raise RGTrmInputError("edge_attr", tuple(edge_attr.shape), f"must have one row per edge ({e})")
        elif edge_attr is not None:
            raise RGTrmInputError(
                "edge_attr", tuple(edge_attr.shape), "given, but the layer was built without edge_dim"
            )
        if dst_ptr is not None and dst_ptr.shape != (n + 1,):
            raise RGTrmInputError("dst_ptr", tuple(dst_ptr.shape), f"must be a ({n + 1},) CSR pointer")

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, heads={self.heads}, "
            f"recurrence={self.recurrence!r}, gate={self.gate!r})"
        )
