"""Training stages I-III of Dysen-VDM (paper §4.3) on Accelerate: one loop, CPU or CUDA, resumable.

* Stage I (``stage="vae"``): the per-frame ``AutoencoderKL`` (reconstruction + KL).
* Stage II (``stage="dsg"``): the denoiser and the DSG encoder (RGTrm) on gold/precomputed DSGs, with
  condition dropout for classifier-free guidance (text and DSG dropped together).
* Stage III (``stage="planner"``): as stage II with DSGs from the planner (Dysen) in the loop, cached per
  caption; ``reward_hook`` receives per-sample losses for an RL demonstration selector.
* ``stage="text"``: the text-only ablation ("w/o Dysen", the plain latent VDM).

Loss: ε-prediction MSE (paper eq. 1) or v-prediction; DDPM with T = 1000. EMA, gradient accumulation,
mixed precision, gradient checkpointing and multi-process data parallelism come from Accelerate/diffusers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dsg import DynamicSceneGraph

from ..models import PRESETS, DSGVideoDenoiser
from ..models.dsg_encoder import DSGConditionEncoder
from ..models.vae import build_vae, encode_video
from ..text import TextEncoder
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import VideoBatchSource

__all__ = ["DenoiserTrainModule", "TrainResult", "train"]

log = logging.getLogger("vdm.training")


class DenoiserTrainModule(nn.Module):
    """The trainable part of stages II/III: denoiser + DSG encoder, called like the denoiser on DSG lists."""

    def __init__(self, denoiser: DSGVideoDenoiser, dsg_encoder: DSGConditionEncoder | None) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.dsg_encoder = dsg_encoder

    def forward(
        self,
        noisy: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        dsgs: list[DynamicSceneGraph | None] | None,
    ) -> torch.Tensor:
        g = gm = None
        if self.dsg_encoder is not None and dsgs is not None:
            g, gm = self.dsg_encoder(dsgs, noisy.shape[2])
        return self.denoiser(noisy, t, text, text_mask, g, gm, return_dict=False)[0]


class TrainResult(dict):
    """``{"steps", "final_loss", "losses", "steps_per_s", "output_dir", "module"}`` (``module``: the trained
    module of this process, training weights, not EMA)."""


def _text_cache(text: TextEncoder, device: torch.device) -> Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]:
    cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def encode(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        todo = [c for c in dict.fromkeys(captions) if c not in cache]
        if todo:
            states, mask = text(todo, "cpu")
            for c, s, m in zip(todo, states, mask):
                cache[c] = (s, m)
            if len(cache) > 200_000:
                cache.clear()
        states = torch.stack([cache[c][0] for c in captions]).to(device)
        mask = torch.stack([cache[c][1] for c in captions]).to(device)
        return states, mask

    return encode


def build_models(cfg: TrainConfig, source: VideoBatchSource) -> tuple[DSGVideoDenoiser, DSGConditionEncoder | None]:
    overrides = dict(cfg.backbone_overrides)
    # Latte's temporal position table has one row per frame
    if cfg.backbone_path is None and PRESETS[cfg.backbone_preset][0] == "latte":
        overrides.setdefault("video_length", cfg.num_frames)
    use_dsg = cfg.stage != "text"
    if cfg.backbone_path is not None:  # adapter mode: pretrained base, zero-gated DSG fusion, base frozen
        from .pretrained import add_lora, freeze_base, load_pretrained_denoiser

        denoiser = load_pretrained_denoiser(cfg.backbone_path, cfg.dsg_hidden if use_dsg else None)
        if cfg.lora_rank:
            add_lora(denoiser, cfg.lora_rank, cfg.lora_alpha)
        trainable = freeze_base(denoiser)
        if not use_dsg and not cfg.lora_rank:
            raise ValueError("stage 'text' with --backbone-path and no LoRA has nothing to train (the base is frozen)")
        log.info("pretrained backbone %s: %d trainable denoiser parameters", cfg.backbone_path, trainable)
    else:
        denoiser = DSGVideoDenoiser.from_preset(
            cfg.backbone_preset, overrides, dsg_dim=cfg.dsg_hidden if use_dsg else None, gate_init=cfg.gate_init
        )
    encoder = None
    if use_dsg:
        encoder = DSGConditionEncoder.from_vocab(
            source.vocab(),
            cfg.dsg_arch,
            hidden=cfg.dsg_hidden,
            num_layers=cfg.dsg_layers,
            heads=cfg.dsg_heads,
            dropout=0.0,
            max_frames=max(64, cfg.num_frames),
        )
    return denoiser, encoder


def load_vae(cfg: TrainConfig) -> nn.Module:
    if cfg.vae_path is None:
        log.warning("no vae_path: using an untrained %s VAE (train stage I first for real runs)", cfg.vae_preset)
        return build_vae(cfg.vae_preset)
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_pretrained(cfg.vae_path)


def _noise_scheduler(cfg: TrainConfig) -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=cfg.num_train_timesteps,
        beta_schedule=cfg.beta_schedule,
        prediction_type=cfg.prediction_type,
        clip_sample=False,
    )


def train(
    cfg: TrainConfig,
    source: VideoBatchSource,
    *,
    planner: Any = None,
    reward_hook: Callable[[list[str], list[DynamicSceneGraph | None], torch.Tensor], None] | None = None,
    eval_hook: Callable[[int, Any], dict[str, float]] | None = None,
    accelerator: Any = None,
) -> TrainResult:
    """Run (or resume) one training stage. Checkpoints go to ``<output_dir>/checkpoints``; the final
    weights (EMA where enabled) to ``<output_dir>/vae`` (stage I) or ``<output_dir>/denoiser`` and
    ``<output_dir>/dsg_encoder`` (stages II/III).

    ``eval_hook(step, modules)`` is called every ``eval_every`` steps on the main process and may return
    metrics to log (the CLI uses it to sample world prompts and score them with the visual parser).
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, set_seed
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    # parts of the DSG branch go unused in some steps (condition dropout, frames without attributes), so DDP
    # must look for unused parameters
    acc = accelerator or Accelerator(
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.grad_accum,
        cpu=not torch.cuda.is_available(),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    set_seed(cfg.seed)
    out = Path(cfg.output_dir)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        cfg.to_json(out / "train_config.json")

    if cfg.stage == "vae":
        module: nn.Module = build_vae(cfg.vae_preset)
        if cfg.gradient_checkpointing:
            module.enable_gradient_checkpointing()
        vae = None
    else:
        denoiser, encoder = build_models(cfg, source)
        if cfg.gradient_checkpointing:
            denoiser.enable_gradient_checkpointing()
        module = DenoiserTrainModule(denoiser, encoder)
        # sources of cached latents need no VAE: the GPU memory and time go to the denoiser
        vae = None if getattr(source, "provides_latents", False) else load_vae(cfg).to(acc.device).eval()
        if vae is not None:
            vae.requires_grad_(False)
        text = TextEncoder.from_pretrained(cfg.text_encoder_path)
        if cfg.backbone_path is not None:
            _check_text_width(denoiser, text)
        encode_text = _text_cache(text, acc.device)
        null_text = text([""], "cpu")
        noise_sched = _noise_scheduler(cfg)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_sched = get_scheduler("constant_with_warmup", opt, num_warmup_steps=cfg.warmup_steps)
    ema = EMAModel(params, decay=cfg.ema_decay) if cfg.ema_decay else None

    sharded = _is_sharded(acc)
    if sharded and ema is not None:
        raise ValueError("FSDP/DeepSpeed runs keep no EMA (the parameters are sharded): --set ema_decay=null")
    start = 0
    ckpt_dir = out / "checkpoints"
    last = latest_checkpoint(ckpt_dir)
    # a full checkpoint (model.safetensors: what single-process and DDP runs write) holds whole tensors, so a
    # run resumes from it at any world size; a sharded one (FSDP/DeepSpeed, accelerate/) is reloaded below
    if last is not None and (last / "model.safetensors").exists():
        state = load_checkpoint(last, module, opt, lr_sched, ema)
        start = int(state["step"])
        if ema is not None:
            ema.optimization_step = int(state.get("ema_step", start))
        acc.print(f"resumed from {last} at step {start}")
    module, opt = acc.prepare(module, opt)
    if sharded:
        acc.register_for_checkpointing(lr_sched)
        if last is not None and (last / "accelerate").is_dir():
            acc.load_state(str(last / "accelerate"))
            start = int(json.loads((last / "state.json").read_text(encoding="utf-8"))["step"])
            acc.print(f"resumed from {last} (sharded) at step {start}")
    if ema is not None:
        ema.to(acc.device)

    def checkpoint(at: int) -> None:
        extra = {"ema_step": ema.optimization_step if ema else 0, "config": asdict(cfg)}
        if sharded:  # every rank writes its shard; then the bookkeeping, atomically, on the main process
            target = ckpt_dir / f"step-{at:08d}"
            acc.save_state(str(target / "accelerate"))
            acc.wait_for_everyone()
            if acc.is_main_process:
                tmp = target / ".state.json.tmp"
                tmp.write_text(json.dumps({"step": at, **extra}, indent=2), encoding="utf-8")
                os.replace(tmp, target / "state.json")
            return
        if acc.is_main_process:
            save_checkpoint(ckpt_dir, at, acc.unwrap_model(module), opt, lr_sched, ema, extra)

    planned: dict[str, DynamicSceneGraph] = {}
    if cfg.stage == "planner" and cfg.planned_dsgs:
        from dsg import read_jsonl

        planned = {d.text: d for d in read_jsonl(cfg.planned_dsgs) if d.text is not None}
        acc.print(f"{len(planned)} precomputed DSGs from {cfg.planned_dsgs}")
    losses: list[float] = []
    t0, done, step = time.time(), 0, start
    world = acc.num_processes
    while step < cfg.max_steps:
        if cfg.max_minutes is not None and (time.time() - t0) / 60 > cfg.max_minutes:
            acc.print(f"time budget of {cfg.max_minutes} min reached at step {step}")
            break
        batch = source.batch(step * world + acc.process_index, cfg.batch_size)
        video = batch.video.to(acc.device) if batch.video is not None else None
        with acc.accumulate(module):
            if cfg.stage == "vae":
                if acc.num_processes > 1:
                    raise ValueError("stage I (vae) trains in a single process; launch it without accelerate")
                loss = _vae_loss(module, video)
            else:
                dsgs: list[DynamicSceneGraph | None] | None = list(batch.dsgs)
                if cfg.stage == "planner":
                    for c in batch.captions:
                        if c not in planned:
                            if planner is None:
                                from ..pipelines import load_planner

                                planner = load_planner(cfg.planner_spec, **cfg.planner_kwargs)
                            planned[c] = planner.plan(c)
                    dsgs = [planned[c] for c in batch.captions]
                elif cfg.stage == "text":
                    dsgs = None
                if batch.latents is not None:
                    latents = batch.latents.to(acc.device, torch.float32)
                else:
                    with torch.no_grad():
                        latents = encode_video(vae, video)
                noise = torch.randn_like(latents)
                b = latents.shape[0]
                t = torch.randint(0, noise_sched.config.num_train_timesteps, (b,), device=acc.device)
                noisy = noise_sched.add_noise(latents, noise, t)
                target = noise if cfg.prediction_type == "epsilon" else noise_sched.get_velocity(latents, noise, t)
                states, tmask = encode_text(batch.captions)
                drop = torch.rand(b) < cfg.cond_dropout
                if drop.any():
                    states = states.clone()
                    tmask = tmask.clone()
                    states[drop] = null_text[0][0].to(states)
                    tmask[drop] = null_text[1][0].to(tmask)
                    if dsgs is not None:
                        dsgs = [None if d else g for d, g in zip(drop.tolist(), dsgs)]
                pred = module(noisy, t, states, tmask, dsgs)
                per_sample = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3, 4))
                loss = per_sample.mean()
                if reward_hook is not None:
                    reward_hook(batch.captions, dsgs or [None] * b, per_sample.detach())
            acc.backward(loss)
            if acc.sync_gradients and cfg.max_grad_norm:
                acc.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            lr_sched.step()
            opt.zero_grad(set_to_none=True)
        if acc.sync_gradients and ema is not None:
            ema.step(params)
        step += 1
        done += 1
        losses.append(float(loss.detach()))
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            rate = done / (time.time() - t0)
            recent = losses[-cfg.log_every :]
            acc.print(
                f"step {step:6d}  loss {sum(recent) / len(recent):.4f}  {rate:.2f} steps/s  "
                f"lr {lr_sched.get_last_lr()[0]:.2e}"
            )
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            checkpoint(step)
        if eval_hook is not None and cfg.eval_every and step % cfg.eval_every == 0 and acc.is_main_process:
            metrics = _with_ema(ema, params, lambda s=step: eval_hook(s, acc.unwrap_model(module)))
            acc.print(f"eval @ {step}: " + "  ".join(f"{k} {v:.3f}" for k, v in (metrics or {}).items()))

    acc.wait_for_everyone()
    result = TrainResult(
        steps=step,
        losses=losses,
        final_loss=losses[-1] if losses else math.nan,
        steps_per_s=done / max(time.time() - t0, 1e-9),
        output_dir=str(out),
        module=acc.unwrap_model(module),
    )
    checkpoint(step)
    if sharded:  # gather the full weights (every rank takes part) and export them from a plain copy
        full = acc.get_state_dict(module)
        if acc.is_main_process:
            fresh = DenoiserTrainModule(*build_models(cfg, source))
            fresh.load_state_dict(full)
            _export(fresh, cfg, out)
        acc.wait_for_everyone()
        return result
    if acc.is_main_process:
        raw = acc.unwrap_model(module)
        _with_ema(ema, params, lambda: _export(raw, cfg, out))
    return result


def _is_sharded(acc: Any) -> bool:
    """FSDP or DeepSpeed: parameters and optimizer state are sharded over the processes."""
    from accelerate.utils import DistributedType

    return acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def _check_text_width(denoiser: DSGVideoDenoiser, text: TextEncoder) -> None:
    from ..models import BACKBONES

    key = BACKBONES[denoiser.config.backbone].text_dim_key
    want = denoiser.net.config.get(key)
    if want is not None and int(want) != text.dim:
        raise ValueError(
            f"the backbone's {key} is {want} but the text encoder gives {text.dim}-wide states; pass the text "
            "encoder the backbone was trained with (--set text_encoder_path=DIR, e.g. a pipeline's text_encoder)"
        )


def _with_ema(ema: Any, params: list[nn.Parameter], fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with the EMA weights swapped in (and the training weights restored after)."""
    if ema is None:
        return fn()
    ema.store(params)
    ema.copy_to(params)
    try:
        return fn()
    finally:
        ema.restore(params)


def _export(module: nn.Module, cfg: TrainConfig, out: Path) -> None:
    if cfg.stage == "vae":
        module.save_pretrained(out / "vae")
        return
    assert isinstance(module, DenoiserTrainModule)
    denoiser = module.denoiser
    if cfg.lora_rank:  # fold LoRA into a copy of the base: the saved denoiser loads without peft
        import copy

        from .pretrained import merge_lora

        denoiser = copy.deepcopy(denoiser)
        merge_lora(denoiser)
    denoiser.save_pretrained(out / "denoiser")
    if module.dsg_encoder is not None:
        module.dsg_encoder.save_pretrained(out / "dsg_encoder")


def _vae_loss(vae: nn.Module, video: torch.Tensor, kl_weight: float = 1e-6, frames_per_video: int = 2) -> torch.Tensor:
    """L1 + MSE reconstruction + a small KL, on ``frames_per_video`` random frames of each video (the VAE is
    per-frame, and neighbouring frames are near duplicates: sampling them keeps a step cheap)."""
    b, f = video.shape[:2]
    pick = torch.rand(b, f, device=video.device).argsort(dim=1)[:, :frames_per_video]
    frames = video[torch.arange(b, device=video.device)[:, None], pick].flatten(0, 1)
    post = vae.encode(frames).latent_dist
    rec = vae.decode(post.sample()).sample
    return F.l1_loss(rec, frames) + F.mse_loss(rec, frames) + kl_weight * post.kl().mean()
