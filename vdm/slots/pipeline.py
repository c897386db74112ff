"""``SlotVDMPipeline``: the default model's pipeline — prompt -> DSG -> RGTrm entity tokens -> slot diffusion.

The same interface and output as :class:`~vdm.pipelines.DysenVDMPipeline` (prompts and/or DSGs in,
:class:`~vdm.pipelines.DysenVDMPipelineOutput` out, ``save_pretrained``/``from_pretrained``, the planner
resolved through the registry), with the object-centric latent of :mod:`vdm.slots`: the ``vae`` component
is a :class:`~vdm.slots.SlotAutoencoder`, the ``denoiser`` a :class:`~vdm.slots.SlotDenoiser` and the
``scheduler`` diffusers' ``FlowMatchEulerDiscreteScheduler``. A DSG with ``E`` entities gives a latent of
``F x E`` slot tokens; the text-only model ("w/o Dysen") always samples ``max_slots`` slots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers.utils.torch_utils import randn_tensor

from dsg import DynamicSceneGraph

from ..pipelines.pipeline_dysen_vdm import DysenVDMPipeline, DysenVDMPipelineOutput, PipelineInputError

__all__ = ["SlotVDMPipeline"]


class SlotVDMPipeline(DysenVDMPipeline):
    """Dysen-VDM over slot latents (see the module docstring); components as in the parent class."""

    model_cpu_offload_seq = "text_encoder->dsg_encoder->denoiser->vae"

    def __init__(
        self,
        denoiser: Any,
        vae: Any,
        scheduler: Any,
        dsg_encoder: Any = None,
        text_encoder: Any = None,
        tokenizer: Any = None,
        planner_spec: str = "dysen:RuleBasedPlanner",
        planner_kwargs: dict[str, Any] | None = None,
        num_frames: int = 16,
        max_text_length: int = 32,
        default_guidance: float = 3.0,
        default_noise_scale: float = 1.0,
    ) -> None:
        super().__init__(
            denoiser,
            vae,
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

    def encode_conditions(
        self,
        prompts: list[str],
        dsgs: list[DynamicSceneGraph | None],
        num_frames: int,
        device: torch.device,
        num_slots: int = 1,
    ) -> dict[str, torch.Tensor | None]:
        text, text_mask = self.text(list(prompts), device)
        cond: dict[str, torch.Tensor | None] = {"text": text, "text_mask": text_mask, "dsg": None, "dsg_mask": None}
        if self.dsg_encoder is not None and self.denoiser.uses_dsg:
            cond["dsg"], cond["dsg_mask"] = self.dsg_encoder.entity_tokens(list(dsgs), num_frames, num_slots)
        return cond

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        dsg: DynamicSceneGraph | list[DynamicSceneGraph] | None = None,
        num_frames: int | None = None,
        num_inference_steps: int = 20,
        guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        interpolate: int = 0,
        interpolator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        callback_on_step_end: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None = None,
        return_dict: bool = True,
        hard_edges: bool = True,
        noise_scale: float | None = None,
    ) -> DysenVDMPipelineOutput | tuple[Any, list[DynamicSceneGraph | None]]:
        """Generate videos; arguments as :meth:`DysenVDMPipeline.__call__`, plus ``hard_edges`` (round the
        decoder's alpha maps at 0.5, as the world's renderer draws) and ``noise_scale``, the sampling
        temperature: the initial noise is ``noise_scale * N(0, I)`` (``None``: the pipeline's
        ``default_noise_scale``, chosen on validation prompts with the guidance; lower values trade
        diversity for fewer spurious motions). ``latents``: initial noise ``(B, F, E, Z)``, used as given;
        ``output_type="latent"`` returns the raw slot latents."""
        prompts, dsgs = self._inputs(prompt, dsg)
        self.check_inputs(output_type, interpolate, num_inference_steps)
        device = self._execution_device
        f = num_frames or self.config.num_frames
        b, e = len(prompts), self.num_slots(dsgs)
        guidance_scale = self.guidance(guidance_scale)
        use_cfg = guidance_scale > 1.0
        cond = self.encode_conditions(prompts, dsgs, f, device, e)
        if use_cfg:
            uncond = self.encode_conditions([""] * b, [None] * b, f, device, e)
            cond = {k: None if v is None else torch.cat([uncond[k], v]) for k, v in cond.items()}
        shape = (b, f, e, self.vae.latent_dim)
        if latents is None:
            scale = self.config.get("default_noise_scale", 1.0) if noise_scale is None else noise_scale
            if not 0.0 < float(scale) < float("inf"):
                raise PipelineInputError(f"noise_scale must be a positive finite number, got {scale!r}")
            latents = randn_tensor(shape, generator=generator, device=device, dtype=self.denoiser.dtype) * scale
        elif tuple(latents.shape) != shape:
            raise PipelineInputError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        latents = self.denoise(latents, cond, guidance_scale, num_inference_steps, generator, callback_on_step_end)
        used = [d if self.denoiser.uses_dsg else None for d in dsgs]
        raw = self.vae.denormalize(latents.float())
        if output_type == "latent":
            return DysenVDMPipelineOutput(raw, used, raw) if return_dict else (raw, used)
        video = self.vae.decode(raw.to(self.vae.dtype), hard=hard_edges).float()  # (B, F, 3, H, W) in [0, 1]
        return self.finish(video, used, output_type, interpolate, interpolator, return_dict)
