r"""DSG encoders: the shared encoder interface :class:`DSGEncoder` and the paper's :class:`RGTrmEncoder`.

An encoder maps a :class:`dsg.FrameInstanceBatch` (from ``dsg.collate(dsgs, vocab)``) to the DSG
representation :math:`H^G = \{H^G_1, \dots, H^G_M\}` of the paper (§4.2), returned as a :class:`DSGEncoding`:
per-frame node sets padded to ``(B, F, N_max, D)`` with a mask (keys/values for the cross-attention of
eq. 6) and pooled per-frame vectors ``(B, F, D)``.

All encoders share the input and output stages and differ only in their layer stack:

1. node inputs: entity-label embedding + sum of the instance's attribute embeddings (frame and static
   ones) + frame encoding of the absolute frame index;
2. edge inputs: predicate embedding + edge-type embedding (forward / reverse / unary / self-loop, see
   :mod:`rgtrm.graph`);
3. ``num_layers`` layers (pre-norm residual blocks, :mod:`rgtrm.layer`), a final LayerNorm;
4. outputs: node states, padded per frame, and their per-frame mean (a learned ``empty_frame`` vector for
   frames without entities).

Weights are saved with safetensors next to a JSON config (:meth:`DSGEncoder.save_pretrained`,
:meth:`DSGEncoder.from_pretrained`, :func:`load_encoder`).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from dsg import DSGVocab, DynamicSceneGraph, FrameInstanceBatch, collate

from .conv import Gate, Recurrence
from .embeddings import FrameEncoding, LabelEmbedding, LearnedLabelEmbedding, label_embedding_from_config
from .errors import CheckpointError, RGTrmConfigError, RGTrmInputError
from .graph import NUM_EDGE_TYPES, SELF, MessageGraph, build_graph
from .layer import RGTrmLayer

__all__ = ["ENCODERS", "DSGEncoder", "DSGEncoding", "RGTrmEncoder", "load_encoder"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "rgtrm-encoder"
FORMAT_VERSION = 1

ENCODERS: dict[str, type[DSGEncoder]] = {}


@dataclass
class DSGEncoding:
    """Output of a DSG encoder (``D`` = ``hidden``).

    Attributes:
        nodes: (N, D) state of every frame instance, in batch order.
        dense: (B, F_max, N_max, D) instance states per DSG and frame, zero-padded.
        mask: (B, F_max, N_max) bool, true where ``dense`` holds an instance.
        pooled: (B, F_max, D) per-frame vectors (mean over the frame's instances; ``empty_frame`` for a frame
            without entities; zero for padding frames).
        frame_mask: (B, F_max) bool, true for the frames each DSG has.
    """

    nodes: Tensor
    dense: Tensor
    mask: Tensor
    pooled: Tensor
    frame_mask: Tensor


class DSGEncoder(nn.Module, ABC):
    """Base class of all DSG encoders (the RGTrm and the ablation baselines).

    Args:
        labels: a :class:`~rgtrm.embeddings.LabelEmbedding`, or a :class:`dsg.DSGVocab` for learned
            embeddings of width ``hidden``.
        hidden: node/edge feature size ``D`` (paper: 768).
        num_layers: number of layers ``L`` (paper: 12).
        heads: attention heads ``k`` (paper: 8); must divide ``hidden``.
        ffn_hidden: inner size of the feed-forward sub-layers; ``None`` = ``hidden`` (the paper sets "all
            dimensions" to 768).
        dropout: dropout of the residual branches, feed-forward nets and inputs.
        attention_dropout: dropout of attention coefficients (attention-based layers).
        time_encoding: ``"sinusoidal"``, ``"learned"`` or ``"none"`` (:class:`~rgtrm.embeddings.FrameEncoding`).
        max_frames: frames supported by a learned time encoding.
        reverse_edges: add ``object -> subject`` edges (typed ``REVERSE``).
        self_loops: add one self-loop per instance (typed ``SELF``).
        **options: architecture-specific options of the subclass.
    """

    arch: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "arch" in cls.__dict__:
            ENCODERS[cls.arch] = cls

    def __init__(
        self,
        labels: LabelEmbedding | DSGVocab,
        *,
        hidden: int = 768,
        num_layers: int = 12,
        heads: int = 8,
        ffn_hidden: int | None = None,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        time_encoding: str = "sinusoidal",
        max_frames: int = 1024,
        reverse_edges: bool = True,
        self_loops: bool = True,
        **options: Any,
    ) -> None:
        super().__init__()
        if hidden < 1:
            raise RGTrmConfigError("hidden", hidden, "must be positive")
        if num_layers < 0:
            raise RGTrmConfigError("num_layers", num_layers, "must be >= 0")
        if heads < 1 or hidden % heads:
            raise RGTrmConfigError("heads", heads, f"must be positive and divide hidden={hidden}")
        if not 0.0 <= dropout < 1.0:
            raise RGTrmConfigError("dropout", dropout, "must be in [0, 1)")
        if isinstance(labels, DSGVocab):
            labels = LearnedLabelEmbedding.from_vocab(labels, hidden)
        if not isinstance(labels, LabelEmbedding):
            raise RGTrmConfigError("labels", type(labels).__name__, "must be a LabelEmbedding or a dsg.DSGVocab")
        self.config: dict[str, Any] = {
            "hidden": hidden,
            "num_layers": num_layers,
            "heads": heads,
            "ffn_hidden": ffn_hidden or hidden,
            "dropout": dropout,
            "attention_dropout": attention_dropout,
            "time_encoding": time_encoding,
            "max_frames": max_frames,
            "reverse_edges": reverse_edges,
            "self_loops": self_loops,
            **options,
        }
        self.hidden = hidden
        self.labels = labels
        project = not labels.trainable or labels.dim != hidden
        self.node_proj = nn.Linear(labels.dim, hidden) if project else nn.Identity()
        self.attr_proj = nn.Linear(labels.dim, hidden) if project else nn.Identity()
        self.pred_proj = nn.Linear(labels.dim, hidden) if project else nn.Identity()
        self.edge_type = nn.Embedding(NUM_EDGE_TYPES, hidden)
        self.time = FrameEncoding(hidden, time_encoding, max_frames)  # type: ignore[arg-type]
        self.input_dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList([self.build_layer() for _ in range(num_layers)])
        self.norm_out = nn.LayerNorm(hidden)
        self.empty_frame = nn.Parameter(torch.zeros(hidden))
        nn.init.normal_(self.edge_type.weight, std=1.0)

    # -- to be provided by each architecture -------------------------------------------------------------
    @abstractmethod
    def build_layer(self) -> nn.Module:
        """One layer of width ``self.hidden`` (options in ``self.config``)."""

    def run_layer(self, layer: nn.Module, x: Tensor, graph: MessageGraph, edge_attr: Tensor) -> Tensor:
        """Apply ``layer`` to node states ``x`` on ``graph`` with edge features ``edge_attr``.

        The default suits static operators called as ``conv(x, edge_index, edge_attr=...)``.
        """
        return layer(x, graph.edge_index, edge_attr=edge_attr)

    # -- shared stages -----------------------------------------------------------------------------------
    def node_inputs(self, batch: FrameInstanceBatch) -> Tensor:
        """(N, D) layer-0 node states: entity label + attributes + frame encoding."""
        x = self.node_proj(self.labels.embed("entity", batch.inst_label))
        if batch.attr_index.size(1):
            attr = self.attr_proj(self.labels.embed("attribute", batch.attr_index[1]))
            x = x + scatter(attr, batch.attr_index[0], 0, dim_size=x.size(0), reduce="sum")
        # the frame encoding is a fixed float32 table unless the module was cast: follow the features' dtype
        return self.input_dropout(x + self.time(batch.inst_frame).to(x.dtype))

    def edge_inputs(self, graph: MessageGraph) -> Tensor:
        """(E, D) edge features: predicate embedding (none on self-loops) + edge-type embedding."""
        pred = self.pred_proj(self.labels.embed("predicate", graph.edge_pred))
        pred = pred.masked_fill((graph.edge_type == SELF).unsqueeze(-1), 0.0)
        return pred + self.edge_type(graph.edge_type)

    def forward(self, batch: FrameInstanceBatch) -> DSGEncoding:
        """Encode a batch of DSGs (``dsg.collate(dsgs, vocab)``)."""
        if not isinstance(batch, FrameInstanceBatch):
            raise RGTrmInputError("batch", type(batch).__name__, "must be a dsg.FrameInstanceBatch (dsg.collate)")
        graph = build_graph(batch, reverse_edges=self.config["reverse_edges"], self_loops=self.config["self_loops"])
        x = self.node_inputs(batch)
        edge_attr = self.edge_inputs(graph)
        for layer in self.layers:
            x = self.run_layer(layer, x, graph, edge_attr)
        x = self.norm_out(x)
        return self.outputs(batch, x)

    def outputs(self, batch: FrameInstanceBatch, x: Tensor) -> DSGEncoding:
        dense, mask = batch.to_dense(x)
        total = int(batch.frame_ptr[-1])
        count = torch.bincount(batch.frame_index, minlength=total)
        flat = scatter(x, batch.frame_index, 0, dim_size=total, reduce="mean")
        flat = torch.where((count > 0).unsqueeze(-1), flat, self.empty_frame.expand_as(flat))
        graph_of_frame = torch.repeat_interleave(torch.arange(batch.num_graphs, device=x.device), batch.num_frames)
        frame_in_graph = torch.arange(total, device=x.device) - batch.frame_ptr[graph_of_frame]
        pooled = x.new_zeros(batch.num_graphs, batch.max_frames, self.hidden)
        pooled = pooled.index_put((graph_of_frame, frame_in_graph), flat)
        return DSGEncoding(x, dense, mask, pooled, batch.frame_mask())

    def encode(self, dsgs: Sequence[DynamicSceneGraph], vocab: DSGVocab) -> DSGEncoding:
        """Collate ``dsgs`` with ``vocab`` and encode them."""
        return self(collate(dsgs, vocab).to(self.empty_frame.device))

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}"

    # -- persistence -------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike[str], vocab: DSGVocab | None = None) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (and ``vocab.json`` if given) into ``directory``."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "config": self.config,
            "labels": self.labels.config(),
        }
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": FORMAT, "arch": self.arch})
        (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if vocab is not None:
            vocab.save(out / "vocab.json")
        return out

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> DSGEncoder:
        """Load an encoder saved by :meth:`save_pretrained` (any architecture when called on the base class)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from . import baselines  # noqa: F401  (registers the baseline architectures in ENCODERS)

        src = Path(directory)
        cfg_path, w_path = src / CONFIG_NAME, src / WEIGHTS_NAME
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise CheckpointError(f"{p} is missing: not an encoder saved by save_pretrained()")
        try:
            meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{cfg_path} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"{cfg_path} is not an {FORMAT} config")
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{cfg_path}: unsupported format_version {meta.get('format_version')!r}")
        arch = meta.get("arch")
        klass = ENCODERS.get(arch)  # type: ignore[arg-type]
        if klass is None:
            raise CheckpointError(f"{cfg_path}: unknown arch {arch!r} (known: {sorted(ENCODERS)})")
        if cls is not DSGEncoder and not issubclass(klass, cls):
            raise CheckpointError(f"{src} holds a {klass.__name__} ({arch!r}), not a {cls.__name__}")
        try:
            model = klass(label_embedding_from_config(meta["labels"]), **meta["config"])
        except (KeyError, TypeError, RGTrmConfigError) as exc:
            raise CheckpointError(f"{cfg_path}: config does not build a {klass.__name__}: {exc}") from exc
        try:
            state = load_file(str(w_path), device=str(map_location))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{w_path} is not a readable safetensors file: {exc}") from exc
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise CheckpointError(f"{w_path} does not match its config: {str(exc)[:500]}") from exc
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"{w_path} does not match its config: missing {result.missing_keys[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}"
            )
        return model.to(map_location)


def load_encoder(directory: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> DSGEncoder:
    """Load any encoder saved with :meth:`DSGEncoder.save_pretrained` (architecture read from its config)."""
    return DSGEncoder.from_pretrained(directory, map_location)


class RGTrmEncoder(DSGEncoder):
    r"""The recurrent graph transformer encoder of Dysen-VDM (paper §4.2; defaults: L=12, k=8, D=768).

    A stack of :class:`~rgtrm.RGTrmLayer` over the frame-instance graph; every layer's
    :class:`~rgtrm.RGTrmConv` gates its queries with the previous frame's (eqs. 4–5) and modulates the
    attention with the predicate/edge-type embedding :math:`E^{k,l} = W^l_E e_{ij}` (eq. 3).

    Args:
        labels: label embedding or vocabulary (see :class:`DSGEncoder`).
        recurrence: ``"paper"`` (eq. 4 as written, default), ``"scan"`` (recurrent over all past frames) or
            ``"none"``.
        gate: ``"head"`` (one gate per node and head, default) or ``"channel"``.
        **kwargs: the shared options of :class:`DSGEncoder` (``hidden``, ``num_layers``, ``heads``, ...).

    Example::

        vocab = dsg.DSGVocab.build(dsgs)
        enc = RGTrmEncoder(vocab, hidden=64, num_layers=2, heads=4, recurrence="scan")
        out = enc(dsg.collate(dsgs, vocab))
        out.dense.shape   # (B, F, N_max, 64), with out.mask
        out.pooled.shape  # (B, F, 64)
    """

    arch = "rgtrm"

    def __init__(
        self, labels: LabelEmbedding | DSGVocab, *, recurrence: Recurrence = "paper", gate: Gate = "head", **kwargs: Any
    ) -> None:
        super().__init__(labels, recurrence=recurrence, gate=gate, **kwargs)

    def build_layer(self) -> nn.Module:
        c = self.config
        return RGTrmLayer(
            c["hidden"],
            c["heads"],
            c["ffn_hidden"],
            dropout=c["dropout"],
            attention_dropout=c["attention_dropout"],
            recurrence=c["recurrence"],
            gate=c["gate"],
            edge_dim=c["hidden"],
        )

    def run_layer(self, layer: nn.Module, x: Tensor, graph: MessageGraph, edge_attr: Tensor) -> Tensor:
        return layer(
            x,
            graph.edge_index,
            prev_index=graph.prev_index,
            edge_attr=edge_attr,
            dst_ptr=graph.dst_ptr,
            chain_length=graph.chain_length,
        )
