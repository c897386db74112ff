"""Tiny real-data inputs written by the tests: a folder of short videos with captions, a saved tiny VAE,
a saved tiny pretrained UNet3D. Shared by the tests and by ``ddp_real.py`` (run under ``accelerate launch``)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

CAPTIONS = [
    "a red circle jumps",
    "a blue square moves left",
    "a green triangle grows, then it rotates",
    "a red circle moves right, then a blue square jumps",
]

#: ``--set`` overrides that keep a training step small: 4 frames of 32x32 (8x8x4 latents), a 1-layer Latte
TINY_SETS = [
    "num_frames=4",
    "resolution=32",
    "clip_seconds=0.5",
    "latent_shard_size=2",
    'backbone_overrides={"num_layers": 1}',
    "dsg_hidden=32",
    "dsg_layers=1",
    "ema_decay=null",
    "warmup_steps=1",
    "log_every=1",
    "checkpoint_every=0",
]


def write_video(path: Path, index: int, *, frames: int = 8, size: int = 32, fps: int = 8) -> Path:
    """A square of colour ``index`` sliding right over a grey background."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    colour = np.array([[255, 40, 40], [40, 40, 255], [40, 200, 40], [230, 230, 40]][index % 4], dtype=np.uint8)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((size, size, 3), 90, dtype=np.uint8)
            x = 2 + 2 * i
            img[10:20, x : x + 10] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_video_folder(root: Path, n: int = 4) -> Path:
    """``root/clip{i}.mp4`` + ``root/captions.jsonl`` (``{"id", "video", "caption"}``, annotate's input too)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "captions.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            write_video(root / f"clip{i}.mp4", i)
            fh.write(json.dumps({"id": f"clip{i}", "video": f"clip{i}.mp4", "caption": CAPTIONS[i % 4]}) + "\n")
    return root


def save_tiny_vae(path: Path) -> Path:
    import torch

    from vdm.models.vae import build_vae

    torch.manual_seed(0)
    build_vae("vae-tiny", block_out_channels=(16, 16, 16)).save_pretrained(path)
    return path


def save_tiny_unet3d(path: Path) -> Path:
    """A randomly initialised "pretrained" ModelScope-layout UNet3D (text width 384: the default encoder's)."""
    import torch
    from diffusers import UNet3DConditionModel

    from vdm.models import PRESETS

    torch.manual_seed(0)
    cfg = dict(PRESETS["unet3d-tiny"][1], block_out_channels=(16, 32), norm_num_groups=8)
    unet = UNet3DConditionModel(**cfg)
    with torch.no_grad():  # non-trivial weights everywhere (diffusers zero-inits some output layers)
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    unet.save_pretrained(path)
    return path
