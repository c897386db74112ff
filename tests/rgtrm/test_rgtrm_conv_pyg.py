"""RGTrmConv under PyG's conv-test idioms (``test/nn/conv/test_transformer_conv.py``, ``torch_geometric.testing``).

What applies, and where it does not:

* shape, ``repr`` and edge-permutation invariance: ``torch_geometric.testing.assert_module``, with
  ``prev_index`` / ``edge_attr`` as keyword inputs (it permutes every keyword tensor with one row per edge,
  so the graphs here have ``N != E``). ``dst_ptr`` is left out there: a CSR pointer describes one edge
  order, so it is not permutation-invariant input. Node-permutation equivariance is checked directly
  (``assert_module`` does not implement it).
* sparse layouts (``SparseTensor``, ``torch.sparse_csc`` / ``torch.sparse_coo`` adjacency): **not
  supported**, by design — ``edge_attr`` rows and the returned attention weights are aligned with the
  columns of a dense ``edge_index``, an order a sparse adjacency does not keep (coalescing merges and
  sorts edges), and the recurrence input ``prev_index`` is a node-level link, not an adjacency. Every
  sparse layout raises ``RGTrmInputError`` naming ``edge_index``. PyG's ``EdgeIndex`` (a dense tensor
  subclass) works.
* bipartite ``(x_src, x_dst)`` input: **not supported** — eq. 5's gate
  :math:`\\sigma(w_z^\\top(Q_i \\odot K_i))` needs every target node's own key and ``prev_index`` links
  targets to targets, so the operator is defined on one node set. A tuple raises ``RGTrmInputError``
  naming ``x`` (not an ``AttributeError``).
* ``torch.jit.script``: the conv is scripted inside a small typed module (its ``forward`` is overloaded
  with ``torch.jit._overload_method``, as PyG's convs are, and a scripted module with an overloaded
  ``forward`` is called through a caller with fixed types); ``RGTrmLayer`` scripts directly. The encoders
  take a ``dsg.FrameInstanceBatch`` (a Python dataclass built from DSGs on the host) and are not scriptable.
* ``torch.compile``: no graph break (``torch._dynamo.explain``) with gradients and a fixed
  ``chain_length`` in every recurrence mode, and ``fullgraph=True`` forward + backward equal to eager (the
  ``aot_eager`` backend, which traces the backward graph too, keeps this fast; the inductor run is the
  ``slow`` test in ``test_rgtrm_conv.py``).
* explain: PyG's explain edge masks (``set_masks``) scale each edge's message; message hooks see
  ``(E, heads, d_k)`` messages.
"""

from __future__ import annotations

from typing import Optional

import pytest
import torch
from _rgtrm_testing import rich_dsg
from torch import Tensor, nn
from torch_geometric import EdgeIndex
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks
from torch_geometric.testing import assert_module
from torch_geometric.utils import to_torch_coo_tensor, to_torch_csc_tensor

import dsg
from rgtrm import RGTrmConv, RGTrmInputError, RGTrmLayer, build_graph

MODES = ("paper", "scan", "none")


@pytest.fixture(scope="module")
def graph():
    dsgs = [rich_dsg(), rich_dsg()]
    g = build_graph(dsg.collate(dsgs, dsg.DSGVocab.build(dsgs)))
    assert g.num_nodes != g.edge_index.size(1)  # assert_module permutes every keyword tensor with E rows
    return g


def inputs(graph, in_dim: int = 6, edge_dim: int = 5, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(graph.num_nodes, in_dim, generator=gen)
    return x, torch.randn(graph.edge_index.size(1), edge_dim, generator=gen)


def conv_of(mode: str, seed: int = 0, **kwargs) -> RGTrmConv:
    torch.manual_seed(seed)
    return RGTrmConv(6, 4, heads=2, recurrence=mode, edge_dim=5, **kwargs)


# -- PyG's assert_module: shape and edge-permutation invariance; node permutation ---------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_assert_module_edge_permutation(graph, mode: str) -> None:
    x, ea = inputs(graph)
    conv = conv_of(mode)
    assert str(conv) == f"RGTrmConv(6, 4, heads=2, recurrence={mode!r}, gate='head')"
    out = assert_module(
        conv,
        x,
        graph.edge_index,
        expected_size=(graph.num_nodes, 8),
        test_sparse_layouts=[],  # not supported by design, see the module docstring and the test below
        atol=1e-6,
        prev_index=graph.prev_index,
        edge_attr=ea,
        chain_length=graph.chain_length,
    )
    # the CSR path gives the same output on the target-sorted edges
    torch.testing.assert_close(
        conv(x, graph.edge_index, graph.prev_index, ea, dst_ptr=graph.dst_ptr, chain_length=graph.chain_length), out
    )


@pytest.mark.parametrize("mode", MODES)
def test_node_permutation_equivariance(graph, mode: str) -> None:
    x, ea = inputs(graph)
    conv = conv_of(mode)
    out = conv(x, graph.edge_index, graph.prev_index, ea)
    perm = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(1))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())  # new index of old node i
    prev = graph.prev_index[perm]
    prev = torch.where(prev < 0, prev, inv[prev.clamp(min=0)])
    got = conv(x[perm], inv[graph.edge_index], prev, ea)
    torch.testing.assert_close(got, out[perm], atol=1e-6, rtol=1e-5)


def test_edge_index_subclass_and_attention_weights(graph) -> None:
    x, ea = inputs(graph)
    conv = conv_of("scan")
    out, (ei, alpha) = conv(x, graph.edge_index, graph.prev_index, ea, return_attention_weights=True)
    assert conv._alpha is None
    assert ei.shape == (2, graph.edge_index.size(1)) and alpha.shape == (graph.edge_index.size(1), 2)
    assert alpha.min() >= 0 and alpha.max() <= 1
    idx = EdgeIndex(graph.edge_index, sparse_size=(graph.num_nodes, graph.num_nodes), sort_order="col")
    torch.testing.assert_close(conv(x, idx, graph.prev_index, ea), out)


@pytest.mark.parametrize(
    "adj",
    [
        lambda g: to_torch_csc_tensor(g.edge_index, size=(g.num_nodes, g.num_nodes)).t(),
        lambda g: to_torch_coo_tensor(g.edge_index, size=(g.num_nodes, g.num_nodes)).t(),
    ],
    ids=["csc", "coo"],
)
def test_sparse_adjacency_raises_typed_error(graph, adj) -> None:
    x, ea = inputs(graph)
    with pytest.raises(RGTrmInputError, match="edge_index.*edge order"):
        conv_of("paper")(x, adj(graph), graph.prev_index, ea)


def test_bipartite_tuple_input_raises_typed_error(graph) -> None:
    x, ea = inputs(graph)
    conv = conv_of("paper")
    with pytest.raises(RGTrmInputError, match="bipartite") as err:
        conv((x, x[:3]), graph.edge_index, graph.prev_index, ea)  # type: ignore[arg-type]
    assert err.value.field == "x"
    with pytest.raises(RGTrmInputError, match="invalid x"):
        conv(x.numpy(), graph.edge_index, graph.prev_index, ea)  # type: ignore[arg-type]


# -- explain: PyG's edge masks and message hooks ----------------------------------------------------------------------
def test_explain_edge_masks_scale_messages(graph) -> None:
    x, ea = inputs(graph)
    conv = conv_of("scan")
    args = (x, graph.edge_index, graph.prev_index, ea)
    plain = conv(*args)
    target = int(graph.edge_index[1, 0])
    into = graph.edge_index[1] == target
    mask = torch.where(into, -1e4, 1e4).requires_grad_()  # sigmoid: 0 into `target`, 1 elsewhere
    set_masks(conv, mask, graph.edge_index, apply_sigmoid=True)
    try:
        masked = conv(*args)
        masked[target].sum().backward()
    finally:
        clear_masks(conv)
    torch.testing.assert_close(masked[target], conv.lin_out.bias)  # no message reaches `target`
    others = torch.arange(graph.num_nodes) != target
    torch.testing.assert_close(masked[others], plain[others])
    assert mask.grad is not None and mask.grad.shape == mask.shape
    torch.testing.assert_close(conv(*args), plain)  # masks cleared


def test_message_hooks_see_per_edge_head_messages(graph) -> None:
    x, ea = inputs(graph)
    conv = conv_of("paper")
    seen: list[tuple[int, ...]] = []
    handle = conv.register_message_forward_hook(lambda module, inputs, out: seen.append(tuple(out.shape)))
    conv(x, graph.edge_index, graph.prev_index, ea)
    handle.remove()
    assert seen == [(graph.edge_index.size(1), 2, 4)]


# -- torch.compile -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gate", ["head", "channel"])
def test_compile_no_graph_break_with_gradients(graph, mode: str, gate: str) -> None:
    x, ea = inputs(graph)
    x.requires_grad_()
    conv = conv_of(mode, gate=gate)
    torch._dynamo.reset()
    try:
        explanation = torch._dynamo.explain(conv)(
            x, graph.edge_index, graph.prev_index, ea, dst_ptr=graph.dst_ptr, chain_length=graph.chain_length
        )
    finally:
        torch._dynamo.reset()
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_compile_fullgraph_forward_backward_matches_eager(graph) -> None:
    x, ea = inputs(graph)
    eager, compiled_conv = conv_of("scan"), conv_of("scan")
    layer = RGTrmLayer(6, heads=2, recurrence="scan", edge_dim=5).eval()
    torch._dynamo.reset()
    try:
        compiled = torch.compile(compiled_conv, fullgraph=True, backend="aot_eager")
        compiled_layer = torch.compile(layer, fullgraph=True, backend="aot_eager")
        results = []
        for fn in (eager, compiled):
            xi = x.clone().requires_grad_()
            out = fn(xi, graph.edge_index, graph.prev_index, ea, dst_ptr=graph.dst_ptr, chain_length=graph.chain_length)
            out.square().sum().backward()
            results.append((out, xi.grad))
        kw = {"dst_ptr": graph.dst_ptr, "chain_length": graph.chain_length}
        layer_out = compiled_layer(x, graph.edge_index, graph.prev_index, ea, **kw)
    finally:
        torch._dynamo.reset()
    torch.testing.assert_close(results[1], results[0], atol=1e-5, rtol=1e-4)
    for p_eager, p_compiled in zip(eager.parameters(), compiled_conv.parameters(), strict=True):
        torch.testing.assert_close(p_compiled.grad, p_eager.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layer_out, layer(x, graph.edge_index, graph.prev_index, ea, **kw), atol=1e-5, rtol=1e-4)


# -- torch.jit.script --------------------------------------------------------------------------------------------------
class Scripted(nn.Module):
    """A typed caller: a scripted module with an overloaded ``forward`` is called through one (PyG's pattern)."""

    def __init__(self, conv: RGTrmConv) -> None:
        super().__init__()
        self.conv = conv

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        prev_index: Optional[Tensor],  # noqa: UP045  (TorchScript reads these annotations at runtime)
        edge_attr: Optional[Tensor],  # noqa: UP045
        dst_ptr: Optional[Tensor],  # noqa: UP045
        chain_length: Optional[int],  # noqa: UP045
    ) -> Tensor:
        return self.conv(x, edge_index, prev_index, edge_attr, dst_ptr, chain_length)


class ScriptedWithAttention(nn.Module):
    def __init__(self, conv: RGTrmConv) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor, edge_index: Tensor, prev_index: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        return self.conv(x, edge_index, prev_index, return_attention_weights=True)


@pytest.mark.parametrize("mode", MODES)
def test_jit_script(graph, mode: str) -> None:
    x, ea = inputs(graph)
    for edge_dim in (5, None):
        torch.manual_seed(0)
        conv = RGTrmConv(6, 4, heads=2, recurrence=mode, edge_dim=edge_dim)
        e = ea if edge_dim else None
        jit = torch.jit.script(Scripted(conv))
        for ptr, bound in ((None, None), (graph.dst_ptr, graph.chain_length)):
            want = conv(x, graph.edge_index, graph.prev_index, e, dst_ptr=ptr, chain_length=bound)
            torch.testing.assert_close(jit(x, graph.edge_index, graph.prev_index, e, ptr, bound), want)
        torch.testing.assert_close(jit(x, graph.edge_index, None, e, None, None), conv(x, graph.edge_index, None, e))
    out, (ei, alpha) = torch.jit.script(ScriptedWithAttention(conv))(x, graph.edge_index, graph.prev_index)
    want, (_, want_alpha) = conv(x, graph.edge_index, graph.prev_index, return_attention_weights=True)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(alpha, want_alpha)
    assert ei is not None and conv._alpha is None


def test_jit_script_gradients_and_layer(graph) -> None:
    """Scripted, the scan runs through autograd (TorchScript cannot compile the custom backward): same gradients."""
    x, ea = inputs(graph)
    conv = conv_of("scan")
    jit = torch.jit.script(Scripted(conv))
    grads = []
    for scripted in (False, True):
        xi = x.clone().requires_grad_()
        args = (xi, graph.edge_index, graph.prev_index, ea)
        out = jit(*args, None, None) if scripted else conv(*args)
        out.square().sum().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[1], grads[0])

    torch.manual_seed(0)
    layer = RGTrmLayer(6, heads=2, recurrence="scan", edge_dim=5).eval()
    scripted = torch.jit.script(layer)
    args = (x, graph.edge_index, graph.prev_index, ea, graph.dst_ptr, graph.chain_length)
    torch.testing.assert_close(scripted(*args), layer(*args))


# -- receptive field of a stack in time (docs/rgtrm.md) ----------------------------------------------------------------
def _two_entity_chain(frames: int) -> tuple[Tensor, Tensor]:
    """Two entities present in every frame, both relations between them plus self-loops (two in-edges per node)."""
    src, dst = [], []
    for m in range(frames):
        a, b = 2 * m, 2 * m + 1
        src += [a, b, a, b]
        dst += [b, a, a, b]
    prev = torch.tensor([i - 2 if i >= 2 else -1 for i in range(2 * frames)])
    return torch.tensor([src, dst]), prev


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_paper_stack_sees_L_frames_of_inputs_and_L_minus_1_of_relations(num_layers: int) -> None:
    """``paper`` mode: node inputs reach L frames forward, relation (edge) inputs L - 1; ``scan``: the whole chain."""
    frames = 6
    edge_index, prev = _two_entity_chain(frames)
    frame_of_edge = edge_index[1] // 2
    last = torch.tensor([2 * frames - 2, 2 * frames - 1])
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2 * frames, 8, generator=gen, dtype=torch.float64)
    ea = torch.randn(edge_index.size(1), 8, generator=gen, dtype=torch.float64)

    for mode in ("paper", "scan"):
        torch.manual_seed(0)
        stack = nn.ModuleList(RGTrmLayer(8, heads=2, recurrence=mode, edge_dim=8) for _ in range(num_layers))
        stack = stack.double().eval()

        def run(x: Tensor, ea: Tensor, stack: nn.ModuleList = stack) -> Tensor:
            for layer in stack:
                x = layer(x, edge_index, prev, ea)
            return x[last]

        base = run(x, ea)
        for back in range(1, frames):
            m = frames - 1 - back
            x2 = x.clone()  # a random change (a constant shift would vanish in the block's LayerNorm)
            x2[2 * m : 2 * m + 2] += torch.randn(2, 8, generator=gen, dtype=torch.float64)
            ea2 = ea.clone()
            ea2[frame_of_edge == m] += torch.randn(4, 8, generator=gen, dtype=torch.float64)
            node_reaches = not torch.equal(run(x2, ea), base)
            edge_reaches = not torch.equal(run(x, ea2), base)
            if mode == "paper":
                assert node_reaches == (back <= num_layers), (mode, back)
                assert edge_reaches == (back <= num_layers - 1), (mode, back)
            else:
                assert node_reaches and edge_reaches == (num_layers > 1), (mode, back)
