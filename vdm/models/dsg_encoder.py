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
from diffusers.utils.accelerate_utils import apply_forward_hook

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
        entity_tokens: also build :meth:`entity_tokens` (one token per entity per frame, for object-centric
            denoisers such as :class:`vdm.slots.SlotDenoiser`); adds two learned vectors.
    """

    @register_to_config
    def __init__(
        self,
        vocab: dict[str, list[str]],
        arch: str = "rgtrm",
        encoder_config: dict[str, Any] | None = None,
        labels_config: dict[str, Any] | None = None,
        entity_tokens: bool = False,
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
        if entity_tokens:
            hidden = int(self.encoder.hidden)
            #: an entity of the DSG that has no instance in a frame (not in that step's scene graph)
            self.absent = torch.nn.Parameter(torch.zeros(hidden))
            #: a slot beyond the DSG's entities (padding: the slot must stay empty)
            self.no_entity = torch.nn.Parameter(torch.randn(hidden) * 0.02)
            #: every slot of a dropped DSG (the unconditional branch of guidance: anything may be there)
            self.null_entity = torch.nn.Parameter(torch.randn(hidden) * 0.02)

    @classmethod
    def from_vocab(
        cls, vocab: DSGVocab, arch: str = "rgtrm", *, entity_tokens: bool = False, **encoder_config: Any
    ) -> DSGConditionEncoder:
        vocab.freeze()
        return cls(vocab.to_dict(), arch, encoder_config or None, entity_tokens=entity_tokens)

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

    @apply_forward_hook  # not forward: bring the weights in under model offloading all the same
    def entity_tokens(
        self, dsgs: Sequence[DynamicSceneGraph | None], num_frames: int, num_slots: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One token per entity per frame: ``(B, F, E, D)`` and the ``(B, E)`` mask of real entities.

        Slot ``e`` of DSG ``b`` is the ``e``-th entity of ``b``'s entity table (:attr:`dsg.DynamicSceneGraph.entities`
        order). In frame ``m`` its token is the encoder's output for its instance in scene graph ``m``
        (paper eqs. 2-5: the instance's state after the L layers of RGTrm), or, when the entity is not in
        that scene graph, its label embedding plus the learned ``absent`` vector. Slots beyond a DSG's
        entities get the learned ``no_entity`` vector (the slot stays empty) and every slot of a ``None``
        DSG the learned ``null_entity`` vector (the unconditional branch of guidance, where the slot may hold
        anything: one vector for both would ask the model for "empty" and "anything" at once). ``num_slots``
        (default: the most entities of any DSG, at least 1) pads or, if smaller, raises.
        """
        if not self.config.entity_tokens:
            raise ValueError("this DSGConditionEncoder was built without entity_tokens=True")
        device = self.no_entity.device
        idx = [i for i, d in enumerate(dsgs) if d is not None]
        counts = [len(dsgs[i].entities) for i in idx]  # type: ignore[union-attr]
        need = max([1, *counts])
        slots = need if num_slots is None else num_slots
        if slots < need:
            raise ValueError(f"a DSG has {need} entities but only {slots} slots were asked for")
        dropped = torch.tensor([d is None for d in dsgs], device=device).view(-1, 1, 1, 1)
        out = torch.where(dropped, self.null_entity, self.no_entity).expand(-1, num_frames, slots, -1).clone()
        mask = torch.zeros(len(dsgs), slots, dtype=torch.bool, device=device)
        if not idx:
            return out, mask
        batch = dsg.collate([dsg.align(dsgs[i], num_frames) for i in idx], self.vocab).to(device)
        enc = self.encoder(batch)
        graph = torch.tensor(idx, device=device)
        ent_graph = graph[batch.entity_graph]
        ent_local = torch.arange(batch.entity_label.shape[0], device=device) - batch.entity_ptr[batch.entity_graph]
        label = self.encoder.node_proj(self.encoder.labels.embed("entity", batch.entity_label)) + self.absent
        out = out.to(enc.nodes.dtype)
        out[ent_graph, :, ent_local] = label.unsqueeze(1).to(out.dtype).expand(-1, num_frames, -1)
        mask[ent_graph, ent_local] = True
        inst_local = batch.inst_entity - batch.entity_ptr[batch.inst_graph]
        out[graph[batch.inst_graph], batch.inst_frame, inst_local] = enc.nodes
        return out, mask
