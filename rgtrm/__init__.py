"""rgtrm — the recurrent graph transformer (RGTrm) of Dysen-VDM (CVPR 2024, §4.2) as a PyTorch Geometric layer.

* :class:`RGTrmConv` — the operator of eqs. 2–5 (``MessagePassing``), recurrence modes ``"paper"`` and
  ``"scan"`` (parallel over frames, :func:`linear_recurrence`).
* :class:`RGTrmLayer` — the operator in a pre-norm residual Transformer block.
* :class:`RGTrmEncoder` — DSG batch (:func:`dsg.collate`) -> per-frame node sets and pooled vectors,
  defaults L=12, k=8, D=768; :func:`load_encoder` / ``save_pretrained`` with safetensors.
* Ablation baselines with the same interface: :class:`RGNNEncoder`, :class:`TransformerEncoder`,
  :class:`GATEncoder`, :class:`GCNEncoder` (``ENCODERS`` maps arch names to classes).
* Label embeddings: :class:`LearnedLabelEmbedding`, :class:`FrozenLabelEmbedding` (from any
  ``transformers`` text encoder via :class:`TextLabelEncoder`, imported lazily).

``import rgtrm`` is light: the submodules (and with them torch_geometric, which itself imports the
``transformers`` package root as of PyG 2.8) load on first attribute access. The text-encoder models of
``transformers`` are loaded only by :class:`TextLabelEncoder`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "baselines": (
        "EdgeWeightedGCNConv",
        "GATEncoder",
        "GCNEncoder",
        "RGNNEncoder",
        "SpaceTimeConv",
        "TransformerEncoder",
    ),
    "conv": ("RECURRENCE_MODES", "RGTrmConv"),
    "embeddings": (
        "LABEL_KINDS",
        "FrameEncoding",
        "FrozenLabelEmbedding",
        "LabelEmbedding",
        "LearnedLabelEmbedding",
        "TextLabelEncoder",
        "label_embedding_from_config",
        "text_label_encoder",
    ),
    "encoder": ("ENCODERS", "DSGEncoder", "DSGEncoding", "RGTrmEncoder", "load_encoder"),
    "errors": ("CheckpointError", "RGTrmConfigError", "RGTrmError", "RGTrmInputError"),
    "graph": ("MessageGraph", "build_graph"),
    "layer": ("GraphBlock", "RGTrmLayer"),
    "scan": ("chain_steps", "linear_recurrence", "linear_recurrence_loop"),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:
    from .baselines import (
        EdgeWeightedGCNConv,
        GATEncoder,
        GCNEncoder,
        RGNNEncoder,
        SpaceTimeConv,
        TransformerEncoder,
    )
    from .conv import RECURRENCE_MODES, RGTrmConv
    from .embeddings import (
        LABEL_KINDS,
        FrameEncoding,
        FrozenLabelEmbedding,
        LabelEmbedding,
        LearnedLabelEmbedding,
        TextLabelEncoder,
        label_embedding_from_config,
        text_label_encoder,
    )
    from .encoder import ENCODERS, DSGEncoder, DSGEncoding, RGTrmEncoder, load_encoder
    from .errors import CheckpointError, RGTrmConfigError, RGTrmError, RGTrmInputError
    from .graph import MessageGraph, build_graph
    from .layer import GraphBlock, RGTrmLayer
    from .scan import chain_steps, linear_recurrence, linear_recurrence_loop


def __getattr__(name: str) -> Any:  # PEP 562: submodules (and torch_geometric) load on first use
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'rgtrm' has no attribute {name!r}")
    if mod == "encoder":
        importlib.import_module(".baselines", __name__)  # registers the baselines in ENCODERS
    return getattr(importlib.import_module(f".{mod}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__version__ = "0.1.0"

__all__ = [
    "ENCODERS",
    "LABEL_KINDS",
    "RECURRENCE_MODES",
    "CheckpointError",
    "DSGEncoder",
    "DSGEncoding",
    "EdgeWeightedGCNConv",
    "FrameEncoding",
    "FrozenLabelEmbedding",
    "GATEncoder",
    "GCNEncoder",
    "GraphBlock",
    "LabelEmbedding",
    "LearnedLabelEmbedding",
    "MessageGraph",
    "RGNNEncoder",
    "RGTrmConfigError",
    "RGTrmConv",
    "RGTrmEncoder",
    "RGTrmError",
    "RGTrmInputError",
    "RGTrmLayer",
    "SpaceTimeConv",
    "TextLabelEncoder",
    "TransformerEncoder",
    "build_graph",
    "chain_steps",
    "label_embedding_from_config",
    "linear_recurrence",
    "linear_recurrence_loop",
    "load_encoder",
    "text_label_encoder",
]
