"""Install DSG fusion processors into any diffusers backbone with cross-attention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .processor import DSGFusionAttnProcessor, DSGFusionError, head_count

__all__ = ["DSGFusion", "cross_attention_layers", "keep_fusion_processors", "set_attention_slice"]


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


@contextmanager
def keep_fusion_processors(module: nn.Module) -> Iterator[None]:
    """Within the block, diffusers calls that replace attention processors (attention slicing, xformers on and
    off, default processors) replace only the *text attention* inside each DSG fusion processor of ``module``.

    Such calls set a fresh processor on every ``Attention`` layer, and diffusers then drops the layer's
    ``nn.Module`` processor together with its weights ("You are removing possibly trained weights"): the DSG
    branch of eq. 6 would vanish without an error. On leaving the block every fusion processor that was
    replaced wraps the new processor instead and is put back, with its weights and DSG condition.
    """
    from diffusers.models.attention_processor import Attention

    held = [
        (attn, attn.processor)
        for attn in module.modules()
        if isinstance(attn, Attention) and isinstance(attn.processor, DSGFusionAttnProcessor)
    ]
    try:
        yield
    finally:
        for attn, fusion in held:
            if attn.processor is not fusion:
                fusion.base_processor = attn.processor
                attn.set_processor(fusion)


def set_attention_slice(module: nn.Module, slice_size: str | int | None) -> int:
    """Sliced attention (diffusers' ``SlicedAttnProcessor``) in every ``Attention`` layer of ``module``, DSG
    fusion kept (:func:`keep_fusion_processors`); returns the number of layers set.

    Args:
        slice_size: ``"auto"`` (half of each layer's heads at a time), ``"max"`` (one head at a time), a
            number of heads per slice (capped at each layer's heads), or ``None`` (back to the default
            processors).

    Raises:
        ValueError: any other ``slice_size``.
    """
    from diffusers.models.attention_processor import Attention

    if not (slice_size in (None, "auto", "max") or (type(slice_size) is int and slice_size > 0)):
        raise ValueError(f"slice_size must be 'auto', 'max', a positive int or None, got {slice_size!r}")
    layers = [m for m in module.modules() if isinstance(m, Attention)]
    with keep_fusion_processors(module):
        for attn in layers:
            heads = attn.sliceable_head_dim
            size = {None: None, "auto": max(1, heads // 2), "max": 1}.get(slice_size, slice_size)  # type: ignore[arg-type]
            attn.set_attention_slice(None if size is None else min(int(size), heads))
    return len(layers)
