"""The DSG branch's encoder as a pipeline component: DSGs -> frame-aligned tokens ``H_G`` (paper §4.2).

Wraps any :mod:`rgtrm` encoder (RGTrm by default; the ablation baselines RGNN, static transformer, GAT,
GCN behind the same interface) together with its label vocabulary, as a diffusers ``ModelMixin`` so that
it is saved, loaded and moved with the pipeline (safetensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

import dsg
from dsg import DSGVocab, DynamicSceneGraph

__all__ = ["DSGConditionEncoder"]


class DSGConditionEncoder(ModelMixin, ConfigMixin):
    """Encode DSGs into per-frame token sets for the denoiser's DSG cross-attention.

    Args:
        vocab: the label vocabulary (``DSGVocab.to_dict()``), frozen.
        arch: encoder architecture: ``"rgtrm"`` (paper) or a baseline (``"rgnn"``, ``"transformer"``,
            ``"gat"``, ``"gcn"``; see ``rgtrm.ENCODERS``).
        encoder_config: keyword arguments of the encoder (``hidden``, ``num_layers``, ``heads``,
            ``recurrence``, ...).
        labels_config: the label-embedding config (``LabelEmbedding.config()``); default: learned
            embeddings of width ``hidden`` sized for ``vocab``.
    """

    @register_to_config
    def __init__(
        self,
        vocab: dict[str, list[str]],
        arch: str = "rgtrm",
        encoder_config: dict[str, Any] | None = None,
        labels_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        import rgtrm
        from rgtrm import baselines  # noqa: F401  (registers the baseline architectures)

        self.vocab = DSGVocab.from_dict(vocab)
        cfg = dict(encoder_config or {"hidden": 128, "num_layers": 2, "heads": 4, "dropout": 0.0})
        if arch not in rgtrm.ENCODERS:
            raise ValueError(f"unknown DSG encoder arch {arch!r}; known: {sorted(rgtrm.ENCODERS)}")
        labels: Any = self.vocab
        if labels_config is not None:
            labels = rgtrm.label_embedding_from_config(labels_config)
        self.encoder = rgtrm.ENCODERS[arch](labels, **cfg)

    @classmethod
    def from_vocab(cls, vocab: DSGVocab, arch: str = "rgtrm", **encoder_config: Any) -> DSGConditionEncoder:
        vocab.freeze()
        return cls(vocab.to_dict(), arch, encoder_config or None)

    @property
    def hidden(self) -> int:
        return int(self.encoder.hidden)

    def forward(self, dsgs: Sequence[DynamicSceneGraph | None], num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, F, N, D)`` tokens and ``(B, F, N)`` mask; each DSG is first aligned to ``num_frames``
        (:func:`dsg.align`) so that video frame ``m`` gets the scene graph of its step. ``None`` entries
        (dropped conditions, the unconditional branch of guidance) give all-masked tokens."""
        device = self.encoder.empty_frame.device
        idx = [i for i, d in enumerate(dsgs) if d is not None]
        enc = None
        if idx:
            aligned = [dsg.align(dsgs[i], num_frames) for i in idx]
            enc = self.encoder(dsg.collate(aligned, self.vocab).to(device))
        n_max = max(1, enc.dense.shape[2]) if enc is not None else 1
        dtype = enc.dense.dtype if enc is not None else self.encoder.empty_frame.dtype
        out = torch.zeros(len(dsgs), num_frames, n_max, self.hidden, device=device, dtype=dtype)
        mask = torch.zeros(len(dsgs), num_frames, n_max, dtype=torch.bool, device=device)
        if enc is not None:
            sel = torch.tensor(idx, device=device)
            out[sel, :, : enc.dense.shape[2]] = enc.dense
            mask[sel, :, : enc.mask.shape[2]] = enc.mask
        return out, mask
