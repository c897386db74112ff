"""RGTrmConv: eqs. 2-5 against a slow reference, PyG conventions, explain, torch.compile, input errors."""

from __future__ import annotations

import copy

import pytest
import torch
from _rgtrm_testing import reference_conv, rich_dsg
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import dsg
from dsg.testing import dynamic_scene_graphs
from rgtrm import RGTrmConfigError, RGTrmConv, RGTrmInputError, RGTrmLayer, build_graph


def graph_of(dsgs: list[dsg.DynamicSceneGraph]):
    vocab = dsg.DSGVocab.build(dsgs)
    return build_graph(dsg.collate(dsgs, vocab))


def make_inputs(graph, in_dim: int = 6, edge_dim: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(graph.num_nodes, in_dim, generator=g)
    ea = torch.randn(graph.edge_index.size(1), edge_dim, generator=g)
    return x, ea


@settings(max_examples=25)
@given(
    st.lists(dynamic_scene_graphs(max_frames=5, max_entities=4), min_size=1, max_size=3),
    st.sampled_from(["paper", "scan", "none"]),
    st.sampled_from(["head", "channel"]),
    st.booleans(),
    st.booleans(),
)
def test_matches_slow_reference(dsgs, recurrence, gate, use_ptr, concat) -> None:
    graph = graph_of(dsgs)
    x, ea = make_inputs(graph)
    torch.manual_seed(1)
    conv = RGTrmConv(6, 3, heads=2, recurrence=recurrence, gate=gate, edge_dim=5, concat=concat)
    want = reference_conv(conv, x, graph.edge_index, graph.prev_index, graph.frame, ea)
    got = conv(
        x,
        graph.edge_index,
        graph.prev_index,
        ea,
        dst_ptr=graph.dst_ptr if use_ptr else None,
        chain_length=graph.chain_length if use_ptr else None,
    )
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_modes_agree_where_they_must() -> None:
    graph = graph_of([rich_dsg()])
    x, ea = make_inputs(graph)
    torch.manual_seed(0)
    paper = RGTrmConv(6, 4, heads=2, recurrence="paper", edge_dim=5)
    scan = copy.deepcopy(paper)
    scan.recurrence = "scan"
    none = RGTrmConv(6, 4, heads=2, recurrence="none", edge_dim=5)
    none.load_state_dict({k: v for k, v in paper.state_dict().items() if "gate" not in k})
    ei, prev = graph.edge_index, graph.prev_index
    # without predecessors all modes are the static transformer
    torch.testing.assert_close(paper(x, ei, None, ea), none(x, ei, None, ea))
    torch.testing.assert_close(scan(x, ei, None, ea), none(x, ei, None, ea))
    # with predecessors: paper == scan on frames 0-1 (chains of length <= 2), they differ later
    out_p, out_s = paper(x, ei, prev, ea), scan(x, ei, prev, ea)
    early = graph.frame <= 1
    torch.testing.assert_close(out_p[early], out_s[early])
    assert not torch.allclose(out_p, none(x, ei, prev, ea))


def test_attention_weights_are_a_softmax_per_target() -> None:
    graph = graph_of([rich_dsg()])
    x, ea = make_inputs(graph)
    conv = RGTrmConv(6, 4, heads=3, edge_dim=5)
    out, (ei, alpha) = conv(x, graph.edge_index, graph.prev_index, ea, return_attention_weights=True)
    assert out.shape == (graph.num_nodes, 12)
    assert ei is graph.edge_index
    assert alpha.shape == (graph.edge_index.size(1), 3)
    sums = torch.zeros(graph.num_nodes, 3).index_add_(0, ei[1], alpha)
    torch.testing.assert_close(sums, torch.ones_like(sums))


def test_reset_parameters_repr_and_edge_bias_init() -> None:
    conv = RGTrmConv(6, 4, heads=2, recurrence="scan", gate="channel", edge_dim=5)
    assert repr(conv) == "RGTrmConv(6, 4, heads=2, recurrence='scan', gate='channel')"
    before = conv.lin_query.weight.detach().clone()
    conv.reset_parameters()
    assert not torch.equal(before, conv.lin_query.weight)
    torch.testing.assert_close(conv.lin_edge.bias, torch.ones(8))  # E starts near 1: plain attention
    assert conv.lin_gate.weight.shape == (4, 4)
    assert RGTrmConv(6, 4, heads=2).lin_gate.weight.shape == (1, 4)
    assert RGTrmConv(6, 4, recurrence="none").lin_gate is None


def test_lazy_in_channels() -> None:
    conv = RGTrmConv(-1, 4, heads=2)
    x = torch.randn(3, 7)
    out = conv(x, torch.tensor([[0, 1], [1, 2]]), torch.tensor([-1, 0, 1]))
    assert out.shape == (3, 8)


def test_gradients_reach_every_parameter() -> None:
    graph = graph_of([rich_dsg()])
    x, ea = make_inputs(graph)
    for mode in ("paper", "scan"):
        conv = RGTrmConv(6, 4, heads=2, recurrence=mode, edge_dim=5)
        (conv(x, graph.edge_index, graph.prev_index, ea).square().sum()).backward()
        for name, p in conv.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, (mode, name)


def test_explain_edge_masks() -> None:
    from torch_geometric.explain import Explainer, GNNExplainer

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = RGTrmConv(6, 4, heads=2, recurrence="scan", edge_dim=5)

        def forward(self, x, edge_index, prev_index, edge_attr):
            return self.conv(x, edge_index, prev_index, edge_attr)

    graph = graph_of([rich_dsg()])
    x, ea = make_inputs(graph)
    explainer = Explainer(
        model=Model(),
        algorithm=GNNExplainer(epochs=5),
        explanation_type="model",
        edge_mask_type="object",
        model_config={"mode": "regression", "task_level": "node", "return_type": "raw"},
    )
    target = 0
    expl = explainer(x, graph.edge_index, prev_index=graph.prev_index, edge_attr=ea, index=target)
    assert expl.edge_mask.shape == (graph.edge_index.size(1),)
    into_target = graph.edge_index[1] == target
    assert (expl.edge_mask[into_target] > 0).all()
    assert (expl.edge_mask[graph.edge_index[1] != target] == 0).all()  # outside the 1-hop receptive field


@pytest.mark.slow
def test_torch_compile_matches_eager() -> None:
    """Inductor, one graph (``fullgraph=True``), forward and backward (the scan's backward has static shapes)."""
    graph = graph_of([rich_dsg()])
    x, ea = make_inputs(graph)
    conv = RGTrmConv(6, 4, heads=2, recurrence="scan", edge_dim=5)
    torch._dynamo.reset()
    try:
        compiled = torch.compile(conv, fullgraph=True)
        kwargs = {"dst_ptr": graph.dst_ptr, "chain_length": graph.chain_length}
        results = []
        for fn in (compiled, conv):
            xi = x.clone().requires_grad_()
            out = fn(xi, graph.edge_index, graph.prev_index, ea, **kwargs)
            out.square().sum().backward()
            results.append((out, xi.grad))
    finally:
        torch._dynamo.reset()
    torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=1e-4)


def test_empty_graph() -> None:
    conv = RGTrmConv(6, 4, heads=2, recurrence="scan", edge_dim=5)
    out = conv(
        torch.zeros(0, 6),
        torch.zeros(2, 0, dtype=torch.long),
        torch.zeros(0, dtype=torch.long),
        torch.zeros(0, 5),
        dst_ptr=torch.zeros(1, dtype=torch.long),
    )
    assert out.shape == (0, 8)


def test_bad_inputs_raise_typed_errors() -> None:
    conv = RGTrmConv(6, 4, heads=2, edge_dim=5)
    x, ei = torch.randn(3, 6), torch.tensor([[0, 1], [1, 2]])
    prev = torch.tensor([-1, 0, 1])
    with pytest.raises(RGTrmInputError, match="edge_attr"):
        conv(x, ei, prev)
    with pytest.raises(RGTrmInputError, match="edge_attr"):
        conv(x, ei, prev, torch.randn(3, 5))
    with pytest.raises(RGTrmInputError, match="prev_index"):
        conv(x, ei, torch.tensor([-1, 0]), torch.randn(2, 5))
    with pytest.raises(RGTrmInputError, match="edge_index"):
        conv(x, ei.float(), prev, torch.randn(2, 5))
    with pytest.raises(RGTrmInputError, match="edge_index"):
        conv(x, ei.to_sparse(), prev, torch.randn(2, 5))
    with pytest.raises(RGTrmInputError, match="dst_ptr"):
        conv(x, ei, prev, torch.randn(2, 5), dst_ptr=torch.tensor([0, 2]))
    with pytest.raises(RGTrmInputError, match="without edge_dim"):
        RGTrmConv(6, 4)(x, ei, prev, torch.randn(2, 5))
    with pytest.raises(RGTrmConfigError, match="recurrence"):
        RGTrmConv(6, 4, recurrence="lstm")  # type: ignore[arg-type]
    with pytest.raises(RGTrmConfigError, match="gate"):
        RGTrmConv(6, 4, gate="node")  # type: ignore[arg-type]
    with pytest.raises(RGTrmConfigError, match="dropout"):
        RGTrmConv(6, 4, dropout=1.5)


def test_rgtrm_layer_block() -> None:
    graph = graph_of([rich_dsg()])
    x = torch.randn(graph.num_nodes, 8)
    ea = torch.randn(graph.edge_index.size(1), 8)
    layer = RGTrmLayer(8, heads=2, recurrence="scan", edge_dim=8).eval()
    out = layer(x, graph.edge_index, graph.prev_index, ea, dst_ptr=graph.dst_ptr, chain_length=graph.chain_length)
    assert out.shape == x.shape
    h = x + layer.conv(layer.norm_conv(x), graph.edge_index, graph.prev_index, ea)
    torch.testing.assert_close(out, h + layer.ffn(layer.norm_ffn(h)))
    with pytest.raises(RGTrmConfigError, match="heads"):
        RGTrmLayer(10, heads=4)
