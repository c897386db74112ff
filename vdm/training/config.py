"""Training configuration: one dataclass, JSON files, named presets (tiny CPU model, paper scale)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["TRAIN_PRESETS", "TrainConfig", "TrainConfigError"]


class TrainConfigError(ValueError):
    """A training configuration value is invalid (names the field)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved as ``train_config.json`` in the output folder.

    Stages (paper §4.3): ``"vae"`` (stage I, autoencoder), ``"dsg"`` (stage II, denoiser + RGTrm on gold or
    precomputed DSGs), ``"planner"`` (stage III, DSGs from the planner in the loop). ``"text"`` trains the
    text-only ablation ("w/o Dysen").
    """

    stage: str = "dsg"
    output_dir: str = "outputs/train"
    # data source: "world" (the procedural world below), or real videos through vdm.data:
    # "folder:DIR", "webvid:CSV[,ROOT]", "msrvtt:ANNOTATIONS[,ROOT]", "ucf101:ROOT[,SPLITDIR]"
    # (vdm.training.real_source)
    data: str = "world"
    dsgs: str | None = None  # real data, stage II: DSGs of the training videos (`dysen-vdm annotate` output)
    latent_cache: str | None = None  # real data: encode-once latent cache folder (default under outputs/)
    latent_shard_size: int = 256  # clips per cache shard
    latent_dtype: str = "float16"  # storage dtype of cached latents
    clip_seconds: float | None = 2.0  # real data: keyframes are taken evenly from a clip this long (paper: 2 s)
    # the procedural world (``vdm.world``) at this size
    num_frames: int = 16
    resolution: int = 32
    max_events: int = 3
    train_size: int = 4096  # scenes rendered once into the data cache and reused every epoch
    data_cache: str | None = None  # default: outputs/world-cache-<F>x<res>-l<max_events>-n<train_size>
    data_workers: int = 0  # processes that build the cache (0: all cores)
    # models
    backbone_preset: str = "latte-tiny"
    backbone_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"num_layers": 6}
    backbone_path: str | None = None  # a pretrained diffusers UNet3D/Latte folder: adapter mode, base frozen
    lora_rank: int = 0  # with backbone_path: LoRA of this rank on the base attention (needs `peft`); 0 = none
    lora_alpha: float | None = None  # LoRA scale numerator (default: lora_rank)
    vae_preset: str = "vae-tiny"
    vae_path: str | None = None  # a stage-I VAE folder (save_pretrained) for stages II/III
    dsg_arch: str = "rgtrm"
    dsg_hidden: int = 128
    dsg_layers: int = 2
    dsg_heads: int = 4
    gate_init: float = 0.1  # from-scratch models: a non-zero gate lets the DSG branch learn from step 0
    text_encoder_path: str | None = None
    planner_spec: str = "dysen:RuleBasedPlanner"
    planner_kwargs: dict[str, Any] = field(default_factory=dict)
    planned_dsgs: str | None = None  # stage III: a JSONL of precomputed DSGs (`dysen-vdm annotate`), keyed by text
    # diffusion
    prediction_type: str = "epsilon"  # paper: epsilon; "v_prediction" optional
    beta_schedule: str = "squaredcos_cap_v2"  # paper: linear DDPM, T = 1000; cosine converges faster on tiny data
    num_train_timesteps: int = 1000
    cond_dropout: float = 0.1
    # optimisation
    batch_size: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    max_steps: int = 1000
    max_minutes: float | None = None
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # "no" | "bf16" | "fp16"
    gradient_checkpointing: bool = False
    ema_decay: float | None = 0.999
    seed: int = 0
    num_workers: int = 0
    # bookkeeping
    log_every: int = 10
    checkpoint_every: int = 200
    eval_every: int = 0
    eval_prompts: int = 8
    eval_steps: int = 20
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {
            "stage": self.stage in ("vae", "dsg", "planner", "text"),
            "prediction_type": self.prediction_type in ("epsilon", "v_prediction"),
            "mixed_precision": self.mixed_precision in ("no", "bf16", "fp16"),
            "batch_size": self.batch_size >= 1,
            "max_steps": self.max_steps >= 1,
            "grad_accum": self.grad_accum >= 1,
            "learning_rate": self.learning_rate > 0,
            "cond_dropout": 0.0 <= self.cond_dropout < 1.0,
            "num_frames": self.num_frames >= 1,
            "data": self.data == "world" or self.data.partition(":")[0] in ("folder", "webvid", "msrvtt", "ucf101"),
            "latent_shard_size": self.latent_shard_size >= 1,
            "latent_dtype": self.latent_dtype in ("float16", "bfloat16", "float32"),
            "lora_rank": self.lora_rank >= 0 and (self.lora_rank == 0 or self.backbone_path is not None),
        }
        for name, ok in checks.items():
            if not ok:
                hint = " (LoRA needs backbone_path: it adapts a pretrained base)" if name == "lora_rank" else ""
                raise TrainConfigError(f"invalid {name}: {getattr(self, name)!r}{hint}")

    def to_json(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainConfigError(f"cannot read training config {path}: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainConfigError(f"unknown training config keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def override(self, **changes: Any) -> TrainConfig:
        known = {f.name for f in fields(self)}
        bad = sorted(k for k in changes if k not in known)
        if bad:
            raise TrainConfigError(f"unknown training config keys {bad}")
        return replace(self, **changes)


TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    # the embedded default, CPU rehearsal and 9-minute GPU run alike (same command, device picked automatically)
    "tiny": {},
    "tiny-vae": {"stage": "vae", "batch_size": 32, "learning_rate": 1e-3, "max_steps": 1500, "ema_decay": None},
    "tiny-text": {"stage": "text"},
    # paper scale (§5.1): 256x256 frames, 32x32x4 latents, 16 keyframes, RGTrm L=12, k=8, 768, UNet3D
    "paper": {
        "resolution": 256,
        "backbone_preset": "unet3d-paper",
        "vae_preset": "vae-paper",
        "dsg_hidden": 768,
        "dsg_layers": 12,
        "dsg_heads": 8,
        "gate_init": 0.0,
        "beta_schedule": "linear",
        "batch_size": 4,
        "learning_rate": 5e-5,
        "mixed_precision": "bf16",
        "gradient_checkpointing": True,
        "max_steps": 200_000,
        "checkpoint_every": 5000,
    },
}
