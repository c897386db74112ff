"""Autoencoder presets (paper stage I): diffusers ``AutoencoderKL`` per frame.

* ``"vae-tiny"``: 32x32x3 frames -> 8x8x4 latents (f = 4), ~0.9 M parameters; trained on the procedural
  world in stage I. Chosen over working on a pixel grid because the denoiser then sees 16 tokens per
  frame with patch 2 instead of 64 with patch 4 on 32x32 pixels, and training speed on a CPU is set by the
  token count (``../shared/FACTS.md``).
* ``"vae-paper"``: Stable Diffusion's f = 8 layout, 256x256x3 frames -> 32x32x4 latents (paper §5.1).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["VAE_PRESETS", "build_vae", "decode_video", "encode_video"]

VAE_PRESETS: dict[str, dict[str, Any]] = {
    "vae-tiny": {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 3,
        "up_block_types": ("UpDecoderBlock2D",) * 3,
        "block_out_channels": (32, 64, 64),
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 16,
        "sample_size": 32,
    },
    "vae-paper": {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "block_out_channels": (128, 256, 512, 512),
        "layers_per_block": 2,
        "latent_channels": 4,
        "norm_num_groups": 32,
        "sample_size": 256,
    },
}


def build_vae(preset: str = "vae-tiny", **overrides: Any) -> nn.Module:
    from diffusers import AutoencoderKL

    if preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {preset!r}; known: {sorted(VAE_PRESETS)}")
    return AutoencoderKL(**{**VAE_PRESETS[preset], **overrides})


def encode_video(vae: nn.Module, video: torch.Tensor, *, sample: bool = False, generator=None) -> torch.Tensor:
    """``(B, F, 3, H, W)`` in [-1, 1] -> scaled latents ``(B, C, F, h, w)`` (frames encoded independently)."""
    b, f = video.shape[:2]
    dist = vae.encode(video.flatten(0, 1)).latent_dist
    z = dist.sample(generator) if sample else dist.mode()
    z = z * vae.config.scaling_factor
    return z.unflatten(0, (b, f)).permute(0, 2, 1, 3, 4)


def decode_video(vae: nn.Module, latents: torch.Tensor, *, chunk: int = 64) -> torch.Tensor:
    """Scaled latents ``(B, C, F, h, w)`` -> ``(B, F, 3, H, W)`` in [-1, 1], decoded ``chunk`` frames at a time."""
    b, _, f = latents.shape[:3]
    z = latents.permute(0, 2, 1, 3, 4).flatten(0, 1) / vae.config.scaling_factor
    frames = torch.cat([vae.decode(part).sample for part in z.split(chunk)])
    return frames.unflatten(0, (b, f)).clamp(-1, 1)
