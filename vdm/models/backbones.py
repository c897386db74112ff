"""Video denoiser backbones behind one interface, with configuration presets.

A backbone is any diffusers model with text cross-attention that maps ``(B, C, F, H, W)`` noisy latents,
timesteps and text tokens to a ``(B, C, F, H, W)`` prediction. Two are built in:

* ``"unet3d"`` - :class:`diffusers.UNet3DConditionModel`, the paper's 3D-UNet (spatial convolutions,
  temporal attention, up/down sampling; ModelScope text-to-video layout);
* ``"latte"`` - :class:`diffusers.LatteTransformer3DModel`, a DiT-style video transformer alternating
  spatial and temporal blocks. On a CPU, token transformers over small latents train an order of magnitude
  more steps per second than a UNet3D (``../shared/FACTS.md``; ``benchmarks/bench_backbones.py``), so the
  embedded default is a small Latte.

Others plug in with :func:`register_backbone`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["BACKBONES", "PRESETS", "Backbone", "build_backbone", "register_backbone"]


@dataclass(frozen=True)
class Backbone:
    """How to build a backbone from a config dict and how to call it.

    ``call(net, sample, timestep, text, text_mask)`` runs the backbone; a backbone whose model hands
    ``cross_attention_kwargs`` to its attention processors sets ``forwards_attention_kwargs`` and takes them as a
    keyword argument of ``call``."""

    build: Callable[[dict[str, Any]], nn.Module]
    call: Callable[..., torch.Tensor]
    text_dim_key: str
    forwards_attention_kwargs: bool = False


def _build_unet(cfg: dict[str, Any]) -> nn.Module:
    from diffusers import UNet3DConditionModel

    return UNet3DConditionModel(**cfg)


def _call_unet(
    m: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    text: torch.Tensor,
    mask: torch.Tensor | None,
    cross_attention_kwargs: dict[str, Any] | None = None,
) -> torch.Tensor:
    return m(x, t, encoder_hidden_states=text, cross_attention_kwargs=cross_attention_kwargs, return_dict=False)[0]


def _build_latte(cfg: dict[str, Any]) -> nn.Module:
    from diffusers import LatteTransformer3DModel

    return LatteTransformer3DModel(**cfg)


def _call_latte(m: nn.Module, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None):
    # Latte's BasicTransformerBlock expects an additive or boolean key mask shaped (B*F, 1, L); its text
    # tokens are repeated per frame, so the mask is too.
    enc_mask = None
    if mask is not None:
        frames = x.shape[2]
        enc_mask = (1.0 - mask.to(x.dtype)) * -10000.0
        enc_mask = enc_mask.repeat_interleave(frames, dim=0)[:, None, :]
    return m(x, timestep=t, encoder_hidden_states=text, encoder_attention_mask=enc_mask, return_dict=False)[0]


BACKBONES: dict[str, Backbone] = {
    "unet3d": Backbone(_build_unet, _call_unet, "cross_attention_dim", forwards_attention_kwargs=True),
    "latte": Backbone(_build_latte, _call_latte, "caption_channels"),
}


def register_backbone(name: str, backbone: Backbone) -> None:
    """Make ``name`` usable as ``DSGVideoDenoiser(backbone=name, ...)``."""
    BACKBONES[name] = backbone


def build_backbone(name: str, config: dict[str, Any]) -> nn.Module:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name].build(dict(config))


PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    # the embedded default: 16 x 8 x 8 x 4 latents (32x32 frames through the f=4 VAE), patch 2 -> 16 tokens/frame
    "latte-tiny": (
        "latte",
        {
            "num_attention_heads": 4,
            "attention_head_dim": 32,
            "in_channels": 4,
            "out_channels": 4,
            "num_layers": 4,
            "cross_attention_dim": 128,
            "sample_size": 8,
            "patch_size": 2,
            "norm_type": "ada_norm_single",
            "caption_channels": 384,
            "video_length": 16,
            "activation_fn": "gelu-approximate",
        },
    ),
    # FACTS.md's tiny UNet3D that runs on a CPU (1.3 M parameters)
    "unet3d-tiny": (
        "unet3d",
        {
            "sample_size": 8,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (32, 64),
            "layers_per_block": 1,
            "norm_num_groups": 8,
            "cross_attention_dim": 384,
            "attention_head_dim": 8,
            "down_block_types": ("CrossAttnDownBlock3D", "DownBlock3D"),
            "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D"),
        },
    ),
    # paper scale: 256x256 frames, 32x32x4 latents, ModelScope text-to-video UNet3D, CLIP ViT-H text width 1024
    "unet3d-paper": (
        "unet3d",
        {
            "sample_size": 32,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "cross_attention_dim": 1024,
            "attention_head_dim": 64,
            "down_block_types": ("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
            "up_block_types": ("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
        },
    ),
    # Latte-1 layout over 32x32x4 latents (28 layers, width 1152)
    "latte-paper": (
        "latte",
        {
            "num_attention_heads": 16,
            "attention_head_dim": 72,
            "in_channels": 4,
            "out_channels": 4,
            "num_layers": 28,
            "cross_attention_dim": 1152,
            "sample_size": 32,
            "patch_size": 2,
            "norm_type": "ada_norm_single",
            "caption_channels": 1024,
            "video_length": 16,
        },
    ),
}
