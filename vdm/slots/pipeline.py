"""``SlotVDMPipeline``: the default model's pipeline — prompt -> DSG -> RGTrm entity tokens -> slot diffusion.

The same interface and output as :class:`~vdm.pipelines.DysenVDMPipeline` (prompts and/or DSGs in,
:class:`~vdm.pipelines.DysenVDMPipelineOutput` out, ``save_pretrained``/``from_pretrained``, the planner
resolved through the registry), with the object-centric latent of :mod:`vdm.slots`: the ``vae`` component
is a :class:`~vdm.slots.SlotAutoencoder`, the ``denoiser`` a :class:`~vdm.slots.SlotDenoiser` and the
``scheduler`` diffusers' ``FlowMatchEulerDiscreteScheduler``. A DSG with ``E`` entities gives a latent of
``F x E`` slot tokens; the text-only model ("w/o Dysen") always samples ``max_slots`` slots.
"""

from __future__ import annotations

from typing import Any

import torch

from dsg import DynamicSceneGraph

from ..models.dsg_encoder import DSGConditionEncoder
from ..pipelines.pipeline_dysen_vdm import (
    Conditioning,
    DSGGroups,
    DysenVDMPipeline,
    PipelineInputError,
    TokensAndMask,
)
from .autoencoder import SlotAutoencoder
from .denoiser import SlotDenoiser

__all__ = ["SlotVDMPipeline"]


class SlotVDMPipeline(DysenVDMPipeline):
    """Dysen-VDM over slot latents (see the module docstring); components as in the parent class.

    The call is the parent's (:meth:`DysenVDMPipeline.__call__`, one implementation) with this latent:
    ``latents`` are ``(B, F, E, Z)`` noise, ``output_type="latent"`` returns the raw (denormalised) slot
    latents, ``height``/``width`` set the size the slot decoder draws at (square; default its ``sample_size``),
    ``hard_edges`` rounds the decoder's alpha maps at 0.5 (as the world's renderer draws), ``noise_scale=None``
    and ``guidance_scale=None`` use the values chosen on validation prompts (``default_noise_scale``,
    ``default_guidance``: lower noise trades diversity for fewer spurious motions). DSG tokens
    (:meth:`encode_dsg`, ``dsg_embeds``) are one per entity per frame, ``(B, F, E, D)`` with a ``(B, E)`` mask.
    The slot decoder is a tiny renderer called outside ``forward``: offloading keeps it on the execution device
    (with the DSG encoder under sequential offloading, as in the parent class).

    ``max_text_length`` (96 tokens) is the text window at generation. The recipe trains with 32 (every level
    1-3 caption has at most 28 tokens, so nothing is cut, and padding is masked): a prompt that fits both gives the
    same video with either window, and a longer prompt reaches the text branch whole instead of cut, as the
    planner reads it (Fig. 5 (b): Dysen-VDM's action TriRec on long captions 0.53 with 32 tokens, 0.67 with 96).
    """

    model_cpu_offload_seq = "text_encoder->dsg_encoder->denoiser"
    _exclude_from_cpu_offload = ["dsg_encoder", "vae"]  # noqa: RUF012 (diffusers API)

    def __init__(
        self,
        denoiser: SlotDenoiser,
        vae: SlotAutoencoder,
        scheduler: Any,
        dsg_encoder: DSGConditionEncoder | None = None,
        text_encoder: Any = None,
        tokenizer: Any = None,
        planner_spec: str = "dysen:RuleBasedPlanner",
        planner_kwargs: dict[str, Any] | None = None,
        num_frames: int = 16,
        max_text_length: int = 96,
        default_guidance: float = 3.0,
        default_noise_scale: float = 1.0,
    ) -> None:
        super().__init__(
            denoiser,  # type: ignore[arg-type]
            vae,  # type: ignore[arg-type]
            scheduler,
            dsg_encoder,
            text_encoder,
            tokenizer,
            planner_spec,
            planner_kwargs,
            num_frames,
            max_text_length,
            default_guidance,
        )
        self.register_to_config(default_noise_scale=float(default_noise_scale))

    @property
    def vae_scale_factor(self) -> int:
        return 1

    def num_slots(self, dsgs: list[DynamicSceneGraph | None]) -> int:
        """Slots to sample: the most entities of any DSG (DSG model), ``max_slots`` (text-only model)."""
        if not self.denoiser.uses_dsg:
            return int(self.denoiser.config.max_slots)
        return max([1, *(len(d.entities) for d in dsgs if d is not None)])

    # -- the parent's hooks -----------------------------------------------------------------------------------
    def _dsg_tokens(self, groups: DSGGroups, num_frames: int, like: torch.Tensor | None) -> list[TokensAndMask]:
        """Entity tokens of each group, all with the same slot count (the given tokens' ``E`` if any)."""
        need = self.num_slots([d for g in groups for d in g])
        slots = need if like is None else int(like.shape[2])
        if slots < need:
            raise PipelineInputError(
                f"a DSG has {need} entities but the given tokens have {slots} slots: the DSGs and the slots of the "
                "DSG tokens beside them must agree"
            )
        return [self.dsg_encoder.entity_tokens(list(g), num_frames, slots) for g in groups]

    def _dsg_mask_shape(self, tokens: torch.Tensor) -> tuple[int, ...]:
        return (int(tokens.shape[0]), int(tokens.shape[2]))

    def _frame_size(self, height: int | None, width: int | None) -> tuple[int, int]:
        height, width = super()._frame_size(height, width)
        if height != width:
            raise PipelineInputError(
                f"the slot decoder draws square frames: height ({height}) must equal width ({width})"
            )
        return height, width

    def latent_shape(self, batch: int, num_frames: int, height: int, width: int, cond: Conditioning) -> tuple[int, ...]:
        slots = int(cond.dsg.shape[2]) if cond.dsg is not None else self.num_slots([])
        return (batch, num_frames, slots, self.vae.latent_dim)

    def decode_latents(
        self, latents: torch.Tensor, height: int, width: int, output_type: str, hard_edges: bool
    ) -> torch.Tensor:
        raw = self.vae.denormalize(latents.float())
        if output_type == "latent":
            return raw
        return self.vae.decode(raw.to(self.vae.dtype), size=height, hard=hard_edges).float()
