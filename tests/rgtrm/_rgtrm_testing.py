"""Shared helpers for the rgtrm tests: tiny DSGs, entity renaming, slow reference implementations."""

from __future__ import annotations

import math

import torch
from torch import Tensor

import rgtrm
from dsg import DynamicSceneGraph, Entity, Relation, SceneGraph


def rich_dsg() -> DynamicSceneGraph:
    """Three frames plus an empty one: binary and unary relations, frame and static attributes, a re-appearance."""
    ents = (Entity("man", "man", ("tall",)), Entity("dog", "dog"), Entity("cup", "cup"), Entity("ball", "ball"))
    f0 = SceneGraph(("man", "dog", "cup"), (("cup", "red"),), (Relation("man", "hold", "cup"), Relation("dog", "run")))
    f1 = SceneGraph(("man", "dog", "cup"), (), (Relation("man", "look at", "dog"), Relation("dog", "near", "cup")))
    f2 = SceneGraph()
    f3 = SceneGraph(("man", "ball"), (("ball", "red"),), (Relation("man", "kick", "ball"),))
    return DynamicSceneGraph((f0, f1, f2, f3), ents, text="a man and a dog")


def rename_entities(d: DynamicSceneGraph, mapping: dict[str, str]) -> DynamicSceneGraph:
    """The same DSG with entity ids renamed (labels and attributes kept), which reorders instances."""
    ents = tuple(Entity(mapping[e.id], e.label, e.attributes) for e in d.entities)
    frames = tuple(
        SceneGraph(
            tuple(mapping[o] for o in sg.objects),
            tuple((mapping[i], a) for i, a in sg.attributes),
            tuple(
                Relation(mapping[r.subject], r.predicate, None if r.object is None else mapping[r.object])
                for r in sg.relations
            ),
        )
        for sg in d.frames
    )
    return DynamicSceneGraph(frames, ents, d.text, d.time_unit)


def states_by_instance(batch, nodes: Tensor, g: int = 0) -> dict[tuple[int, str], Tensor]:
    """``{(frame, entity id): state}`` for DSG ``g`` of a batch."""
    ids = batch.meta[g]["entity_ids"]
    e0 = int(batch.entity_ptr[g])
    out = {}
    for i in range(int(batch.inst_ptr[g]), int(batch.inst_ptr[g + 1])):
        out[(int(batch.inst_frame[i]), ids[int(batch.inst_entity[i]) - e0])] = nodes[i]
    return out


def tiny_encoder(arch: str, vocab, **kwargs) -> rgtrm.DSGEncoder:
    cfg = {"hidden": 8, "num_layers": 2, "heads": 2, "dropout": 0.0, **kwargs}
    torch.manual_seed(0)
    return rgtrm.ENCODERS[arch](vocab, **cfg).eval()


def reference_conv(
    conv: rgtrm.RGTrmConv, x: Tensor, edge_index: Tensor, prev: Tensor, frame: Tensor, edge_attr: Tensor | None
) -> Tensor:
    """Eqs. 2-5 with explicit Python loops over nodes (frame by frame) and over each node's in-edges."""
    h, c = conv.heads, conv.out_channels
    q = conv.lin_query(x).view(-1, h, c)
    k = conv.lin_key(x).view(-1, h, c)
    v = conv.lin_value(x).view(-1, h, c)
    n = x.size(0)
    qhat: list[Tensor] = [q[i] for i in range(n)]
    for i in sorted(range(n), key=lambda i: int(frame[i])):
        p = int(prev[i])
        if conv.recurrence == "none" or p < 0:
            continue
        z = torch.sigmoid(conv.lin_gate(q[i] * k[i]))
        before = q[p] if conv.recurrence == "paper" else qhat[p]
        qhat[i] = (1 - z) * before + z * q[i]
    rows = []
    for i in range(n):
        acc = torch.zeros(h, c)
        edges = [e for e in range(edge_index.size(1)) if int(edge_index[1, e]) == i]
        if edges:
            scores = torch.stack([(qhat[i] * k[int(edge_index[0, e])]).sum(-1) / math.sqrt(c) for e in edges])
            weights = torch.softmax(scores, dim=0)
            for t, e in enumerate(edges):
                scale = conv.lin_edge(edge_attr[e]).view(h, c) if conv.lin_edge is not None else 1.0
                acc = acc + weights[t].unsqueeze(-1) * scale * v[int(edge_index[0, e])]
        rows.append(acc.reshape(-1) if conv.concat else acc.mean(0))
    return conv.lin_out(torch.stack(rows) if rows else x.new_zeros(0, h * c if conv.concat else c))
