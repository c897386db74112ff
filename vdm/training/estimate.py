"""Back-of-the-envelope sizing of a training configuration, computed without running it.

``python -m vdm.training.estimate --preset paper [--set KEY=VALUE ...] [--gpus 8]`` builds the models of the
configuration on PyTorch's ``meta`` device (no memory, no weights), counts parameters, counts the FLOPs of
one denoiser forward on one sample with :class:`torch.utils.flop_counter.FlopCounterMode`, and prints the
memory a GPU needs for weights, gradients and AdamW state under DDP, FSDP and ZeRO-2, for full training
and for adapter mode (``--backbone-path``: base frozen, DSG branch trained). Activation memory and time
are not computed here: they are measured (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from .config import TRAIN_PRESETS, TrainConfig

__all__ = ["estimate", "main"]


def _count(module: torch.nn.Module, pred: Any = None) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if pred is None or pred(n))


def _rgtrm_params(cfg: TrainConfig) -> int:
    from dsg import DSGVocab

    from ..models.dsg_encoder import DSGConditionEncoder

    with torch.device("meta"):
        enc = DSGConditionEncoder.from_vocab(
            DSGVocab.build([]), cfg.dsg_arch, hidden=cfg.dsg_hidden, num_layers=cfg.dsg_layers, heads=cfg.dsg_heads
        )
    return _count(enc)


def estimate(cfg: TrainConfig, gpus: int = 8, text_dim: int | None = None) -> dict[str, Any]:
    """Parameter counts, forward GFLOPs per sample and per-GPU memory (GiB) of weights + grads + AdamW."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import BACKBONES, PRESETS, DSGVideoDenoiser
    from ..models.vae import VAE_PRESETS, build_vae

    name, bcfg = PRESETS[cfg.backbone_preset]
    bcfg = {**bcfg, **cfg.backbone_overrides}
    if name == "latte":
        bcfg["video_length"] = cfg.num_frames
    with torch.device("meta"):
        den = DSGVideoDenoiser(backbone=name, backbone_config=bcfg, dsg_dim=cfg.dsg_hidden, gate_init=0.0)
        vae = build_vae(cfg.vae_preset)
    total = _count(den)
    fusion = _count(den, lambda n: ".processor." in n)
    rgtrm = _rgtrm_params(cfg)
    down = 2 ** (len(VAE_PRESETS[cfg.vae_preset]["block_out_channels"]) - 1)
    side = cfg.resolution // down
    text_dim = text_dim or int(bcfg.get(BACKBONES[name].text_dim_key) or 384)
    x = torch.zeros(1, 4, cfg.num_frames, side, side, device="meta")
    text = torch.zeros(1, 77, text_dim, device="meta")
    with FlopCounterMode(display=False) as counter:
        den(x, torch.zeros(1, device="meta"), text, None, return_dict=False)
    fwd = counter.get_total_flops()
    gib = 1024**3

    def mem(trainable: int, frozen: int) -> dict[str, float]:
        # fp32 weights (bf16 autocast), fp32 grads, AdamW m and v in fp32: 16 bytes per trained parameter
        w, state = 4 * (trainable + frozen), 12 * trainable
        return {
            "ddp": round((w + state) / gib, 1),
            "zero2": round((w + 4 * trainable + 8 * trainable / gpus) / gib, 1),
            "fsdp": round((w + state) / gpus / gib, 1),
        }

    return {
        "backbone": cfg.backbone_preset,
        "latent": [4, cfg.num_frames, side, side],
        "params_denoiser_M": round(total / 1e6, 1),
        "params_dsg_fusion_M": round(fusion / 1e6, 1),
        "params_rgtrm_M": round(rgtrm / 1e6, 1),
        "params_vae_M": round(_count(vae) / 1e6, 1),
        "forward_gflops_per_sample": round(fwd / 1e9, 1),
        "train_gflops_per_sample": round(3 * fwd / 1e9, 1),  # forward + backward ~ 3x forward
        "train_gflops_per_sample_with_checkpointing": round(4 * fwd / 1e9, 1),  # + one recomputed forward
        "gib_per_gpu_full_training": mem(total + rgtrm, 0),
        "gib_per_gpu_adapter_mode": mem(fusion + rgtrm, total - fusion),
        "gpus": gpus,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m vdm.training.estimate", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="paper", choices=sorted(TRAIN_PRESETS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--gpus", type=int, default=8)
    args = p.parse_args(argv)
    changes = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        try:
            changes[key] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key] = raw
    cfg = TrainConfig(**TRAIN_PRESETS[args.preset]).override(**changes)
    print(json.dumps(estimate(cfg, args.gpus), indent=2))


if __name__ == "__main__":
    main()
