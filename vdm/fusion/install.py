"""Install DSG fusion processors into any diffusers backbone with cross-attention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .processor import DSGFusionAttnProcessor, DSGFusionError, head_count

__all__ = ["DSGFusion", "cross_attention_layers"]


def cross_attention_layers(backbone: nn.Module) -> dict[str, nn.Module]:
    """The text cross-attention layers of a diffusers model (``Attention`` modules with ``is_cross_attention``),
    keyed by the processor names diffusers uses in ``attn_processors`` (``"<module path>.processor"``)."""
    from diffusers.models.attention_processor import Attention

    return {
        f"{name}.processor": mod
        for name, mod in backbone.named_modules()
        if isinstance(mod, Attention) and mod.is_cross_attention
    }


class DSGFusion:
    """The DSG branch of a denoiser: one :class:`DSGFusionAttnProcessor` per text cross-attention layer.

    Installing it (``DSGFusion(backbone, dsg_dim)``) sets each cross-attention layer's processor to a
    fusion processor wrapping the layer's current processor. Diffusers registers ``nn.Module``
    processors as sub-modules of their ``Attention`` layer, so the fusion parameters become part of the
    backbone (``...attn2.processor.to_q.weight``): saved, loaded, moved and trained with it. This object
    only keeps references to them (:meth:`parameters` for an adapter-only optimiser, :meth:`gates`).
    Other layers keep their processors.

    Use :meth:`condition` around a backbone call to give the processors the DSG tokens of that call.
    """

    def __init__(self, backbone: nn.Module, dsg_dim: int, *, heads: int = 4, gate_init: float = 0.0) -> None:
        layers = cross_attention_layers(backbone)
        if not layers:
            raise DSGFusionError(
                f"{type(backbone).__name__} has no cross-attention layer to fuse DSG features into; "
                "configure it with cross_attention_dim"
            )
        self.dsg_dim = dsg_dim
        self.names = sorted(layers)
        self.processors: list[DSGFusionAttnProcessor] = []
        for name in self.names:
            attn = layers[name]
            if isinstance(attn.processor, DSGFusionAttnProcessor):
                raise DSGFusionError(f"{name} already has a DSG fusion processor")
            hidden = attn.to_q.out_features
            proc = DSGFusionAttnProcessor(hidden, dsg_dim, head_count(hidden, heads), attn.processor, gate_init)
            attn.set_processor(proc)
            self.processors.append(proc)

    def parameters(self) -> Iterator[nn.Parameter]:
        for proc in self.processors:
            yield from proc.parameters()

    def set_condition(self, states: torch.Tensor | None, mask: torch.Tensor | None = None) -> None:
        for proc in self.processors:
            proc.set_condition(states, mask)

    @contextmanager
    def condition(self, states: torch.Tensor | None, mask: torch.Tensor | None = None) -> Iterator[None]:
        """Within the block, every fusion processor attends to ``states`` ``(B·F, N, D)`` with ``mask``."""
        self.set_condition(states, mask)
        try:
            yield
        finally:
            self.set_condition(None, None)

    def gates(self) -> torch.Tensor:
        return torch.cat([p.gate.detach() for p in self.processors])
