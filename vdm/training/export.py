"""Assemble a saved :class:`~vdm.pipelines.DysenVDMPipeline` from the outputs of the training stages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig

__all__ = ["export_pipeline", "sampling_scheduler"]


def sampling_scheduler(cfg: TrainConfig, kind: str = "ddim") -> Any:
    """The sampler matching the training noise schedule: DDIM (default) or DPM-Solver++ (multistep)."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    common = {
        "num_train_timesteps": cfg.num_train_timesteps,
        "beta_schedule": cfg.beta_schedule,
        "prediction_type": cfg.prediction_type,
    }
    if kind == "ddim":
        return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False, timestep_spacing="trailing")
    if kind == "dpm":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++")
    raise ValueError(f"unknown sampler {kind!r}; use 'ddim' or 'dpm'")


def export_pipeline(
    train_dir: str | os.PathLike[str],
    vae_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    sampler: str = "ddim",
) -> Path:
    """Write a pipeline folder from ``<train_dir>/denoiser`` (+ ``dsg_encoder``) and a stage-I VAE folder.

    ``dtype="float16"`` halves the files (the shipped default is stored that way; it is cast back to
    float32 on load for CPU inference).
    """
    from diffusers import AutoencoderKL

    from ..models import DSGVideoDenoiser
    from ..models.dsg_encoder import DSGConditionEncoder
    from ..pipelines import DysenVDMPipeline

    train_dir, out_dir = Path(train_dir), Path(out_dir)
    cfg = TrainConfig.from_json(train_dir / "train_config.json")
    denoiser = DSGVideoDenoiser.from_pretrained(train_dir / "denoiser")
    encoder = (
        DSGConditionEncoder.from_pretrained(train_dir / "dsg_encoder") if (train_dir / "dsg_encoder").exists() else None
    )
    vae = AutoencoderKL.from_pretrained(vae_dir)
    text_model = tokenizer = None
    if cfg.text_encoder_path:  # a non-default text encoder (e.g. a CLIP backbone's) travels with the pipeline
        from ..text import TextEncoder

        text = TextEncoder.from_pretrained(cfg.text_encoder_path)
        text_model, tokenizer = text.model, text.tokenizer
    pipe = DysenVDMPipeline(
        denoiser,
        vae,
        sampling_scheduler(cfg, sampler),
        encoder,
        text_model,
        tokenizer,
        planner_spec=cfg.planner_spec,
        planner_kwargs=cfg.planner_kwargs,
        num_frames=cfg.num_frames,
    )
    pipe.to(getattr(torch, dtype))
    pipe.save_pretrained(out_dir)
    return out_dir
