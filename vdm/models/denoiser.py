"""The Dysen-VDM denoiser: a video backbone with DSG fusion in every cross-attention block (eq. 6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput

from ..fusion import DSGFusion, DSGFusionError, keep_fusion_processors, set_attention_slice
from .backbones import BACKBONES, PRESETS, build_backbone

__all__ = ["DSGVideoDenoiser", "DenoiserOutput"]


@dataclass
class DenoiserOutput(BaseOutput):
    """``sample``: the prediction (noise, velocity or clean latents, per the scheduler), ``(B, C, F, H, W)``."""

    sample: torch.Tensor


class DSGVideoDenoiser(ModelMixin, ConfigMixin):
    """ε/v-prediction network of Dysen-VDM: ``backbone`` + :class:`~vdm.fusion.DSGFusion` (paper §4.2, eq. 6).

    Args:
        backbone: ``"latte"``, ``"unet3d"`` or any name given to :func:`~vdm.models.register_backbone`.
        backbone_config: keyword arguments of the backbone's constructor (see :data:`~vdm.models.PRESETS`).
        dsg_dim: width of the DSG tokens (the DSG encoder's hidden size); ``None`` builds a text-only model
            (the paper's "w/o Dysen" ablation, i.e. the plain latent VDM).
        fusion_heads: heads of the DSG cross-attentions.
        gate_init: initial fusion gate (0: adapter mode, the backbone is unchanged until trained).
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        backbone: str = "latte",
        backbone_config: dict[str, Any] | None = None,
        dsg_dim: int | None = 128,
        fusion_heads: int = 4,
        gate_init: float = 0.0,
    ) -> None:
        super().__init__()
        cfg = backbone_config if backbone_config is not None else PRESETS["latte-tiny"][1]
        self.net = build_backbone(backbone, cfg)
        self._call = BACKBONES[backbone].call
        self._forwards_attention_kwargs = BACKBONES[backbone].forwards_attention_kwargs
        self.fusion = DSGFusion(self.net, dsg_dim, heads=fusion_heads, gate_init=gate_init) if dsg_dim else None

    @classmethod
    def from_preset(
        cls, preset: str, backbone_overrides: dict[str, Any] | None = None, **kwargs: Any
    ) -> DSGVideoDenoiser:
        """A denoiser on a :data:`~vdm.models.PRESETS` backbone, with ``backbone_overrides`` applied to its config."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
        name, cfg = PRESETS[preset]
        return cls(backbone=name, backbone_config={**cfg, **(backbone_overrides or {})}, **kwargs)

    @property
    def uses_dsg(self) -> bool:
        return self.fusion is not None

    def set_attention_slice(self, slice_size: str | int | None) -> None:
        """Sliced attention in every attention layer of the backbone (what ``pipe.enable_attention_slicing``
        calls), the DSG fusion of eq. 6 kept: see :func:`vdm.fusion.set_attention_slice`."""
        set_attention_slice(self.net, slice_size)

    def set_use_memory_efficient_attention_xformers(self, valid: bool, attention_op: Any = None) -> None:
        """diffusers' xformers switch, the DSG fusion processors kept (they wrap the new text attention)."""
        with keep_fusion_processors(self.net):
            super().set_use_memory_efficient_attention_xformers(valid, attention_op)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None = None,
        dsg_states: torch.Tensor | None = None,
        dsg_mask: torch.Tensor | None = None,
        return_dict: bool = True,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> DenoiserOutput | tuple[torch.Tensor]:
        """Predict from noisy latents.

        Args:
            sample: ``(B, C, F, H, W)`` noisy latents.
            timestep: ``(B,)`` or scalar diffusion step.
            encoder_hidden_states: ``(B, L, D_text)`` text tokens ``H_Y``.
            encoder_attention_mask: ``(B, L)`` bool, True for real text tokens.
            dsg_states: ``(B, F, N, D)`` per-frame DSG tokens ``H_G`` (frame ``m`` of the video gets the
                scene graph of frame ``m``), or ``None`` for the null DSG.
            dsg_mask: ``(B, F, N)`` bool, True for real DSG tokens.
            cross_attention_kwargs: handed to the backbone's attention processors (the DSG fusion processors
                pass them on to the layers' own); only backbones that forward them (``unet3d``) take any.
        """
        if sample.dim() != 5:
            raise DSGFusionError(f"sample must be (B, C, F, H, W), got {tuple(sample.shape)}")
        b, _, f = sample.shape[:3]
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([timestep], device=sample.device)
        timestep = timestep.reshape(-1).expand(b) if timestep.numel() in (1, b) else timestep
        states = mask = None
        if dsg_states is not None:
            if self.fusion is None:
                raise DSGFusionError("this denoiser was built text-only (dsg_dim=None); it cannot take DSG tokens")
            if dsg_states.dim() != 4 or dsg_states.shape[:2] != (b, f):
                raise DSGFusionError(
                    f"dsg_states must be (B={b}, F={f}, N, D) to match the sample, got {tuple(dsg_states.shape)}"
                )
            states = dsg_states.reshape(b * f, *dsg_states.shape[2:])
            mask = None if dsg_mask is None else dsg_mask.reshape(b * f, -1)
        elif self.fusion is not None:  # null DSG: attend to the learned null token only
            states = sample.new_zeros(b * f, 1, self.config.dsg_dim)
            mask = torch.zeros(b * f, 1, dtype=torch.bool, device=sample.device)
        extra: dict[str, Any] = {}
        if cross_attention_kwargs:
            if not self._forwards_attention_kwargs:
                raise DSGFusionError(
                    f"the {self.config.backbone!r} backbone does not hand cross_attention_kwargs to its attention "
                    f"processors (got {sorted(cross_attention_kwargs)})"
                )
            extra["cross_attention_kwargs"] = dict(cross_attention_kwargs)
        args = (self.net, sample, timestep, encoder_hidden_states, encoder_attention_mask)
        if self.fusion is not None:
            with self.fusion.condition(states, mask):
                out = self._call(*args, **extra)
        else:
            out = self._call(*args, **extra)
        return DenoiserOutput(sample=out) if return_dict else (out,)
