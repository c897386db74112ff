"""Training of the default (slot) model: stage I autoencoder, then the DSG-conditioned slot denoiser.

One resumable function per stage, the same on CPU and CUDA (``device``), printing steps/s and elapsed
minutes. Stage II/III batches are drawn from in-memory slot latents (:mod:`vdm.slots.data`) with a
generator seeded by the step index, so a resumed run draws exactly the batches it would have drawn.
Checkpoints: :mod:`vdm.training.checkpoint` (safetensors weights, ``weights_only`` optimizer state); the
exported pipeline keeps the EMA weights in fp16.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from ..world.config import WorldConfig
from ..world.render import render_batch
from ..world.world import World
from .autoencoder import GEOMETRY_DIM, SlotAutoencoder
from .data import SlotData
from .denoiser import SlotDenoiser

__all__ = ["SlotTrainConfig", "build_slot_pipeline", "train_slot_autoencoder", "train_slot_denoiser"]

Log = Callable[[str], None]


@dataclass
class SlotTrainConfig:
    """Settings of a slot-denoiser run (stage II with gold DSGs, stage III with planned ones).

    ``use_dsg=False`` is the text-only ablation ("w/o Dysen"); ``encoder_arch`` picks RGTrm or a baseline
    (``"rgnn"``: the Table 4 "RGTrm -> RGNN" row); ``recurrence`` RGTrm's eq. 4 mode.
    """

    output_dir: str = "outputs/slot-model"
    use_dsg: bool = True
    encoder_arch: str = "rgtrm"
    recurrence: str = "scan"
    encoder_hidden: int = 128
    encoder_layers: int = 2
    width: int = 128
    depth: int = 4
    heads: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 200
    decay_from: int | None = None
    init_from: str | None = None
    init_step: int = 0
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    p_uncond: float = 0.1
    max_steps: int = 100_000
    minutes: float | None = None
    checkpoint_every: int = 500
    eval_every: int = 0
    eval_prompts: int = 16
    seed: int = 0
    device: str = "cpu"
    bf16: bool = False
    planner_spec: str = "dysen:RuleBasedPlanner"
    planner_kwargs: dict[str, Any] = field(default_factory=lambda: {"colour_in_label": True})

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")


def _log(msg: str) -> None:
    print(msg, flush=True)


# -- stage I ---------------------------------------------------------------------------------------------
def train_slot_autoencoder(
    output_dir: str | Path,
    *,
    steps: int = 600,
    batch_videos: int = 64,
    instances: int = 512,
    lr: float = 2e-3,
    code_noise: float = 0.05,
    resolution: int = 32,
    num_frames: int = 16,
    levels: Sequence[int] = (1, 2, 3),
    seed: int = 0,
    device: str = "cpu",
    log: Log = _log,
    **ae_config: Any,
) -> SlotAutoencoder:
    """Stage I: train the glyph encoder/decoder on the masks of world videos (train split seeds), save
    the autoencoder (fp32, it is small) to ``output_dir`` and return it. A fresh batch of ``batch_videos``
    videos every 10 steps; each step fits ``instances`` visible entity instances drawn from it."""
    out = Path(output_dir)
    world = World(WorldConfig(num_frames=num_frames, height=resolution, width=resolution), list(levels))
    ae = SlotAutoencoder(sample_size=resolution, **ae_config).to(device)
    opt = torch.optim.AdamW(ae.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    masks = geo = None
    for step in range(steps):
        if step % 10 == 0:
            samples = world.sample_batch([(seed, 0, step * batch_videos + i) for i in range(batch_videos)])
            rendered = render_batch([s.scene for s in samples])
            video = rendered.videos.permute(0, 1, 4, 2, 3).float().div(255.0).to(device)
            masks = rendered.masks.to(device)
            with torch.no_grad():
                geo, vis = ae.geometry(video, masks)
            visible = vis.reshape(-1).nonzero().squeeze(1)
            masks, geo = masks.reshape(-1, resolution, resolution)[visible], geo.reshape(-1, GEOMETRY_DIM)[visible]
        pick = torch.randint(masks.shape[0], (instances,), generator=gen).to(device)
        loss = ae.reconstruction_loss(masks[pick], geo[pick], code_noise=code_noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            el = time.time() - t0
            rate = (step + 1) / el
            log(f"[stage I] step {step + 1}/{steps} loss {loss.item():.4f} {rate:.2f} steps/s {el / 60:.1f} min")
    ae.eval()
    ae.save_pretrained(out)
    return ae


# -- stage II / III --------------------------------------------------------------------------------------
class SlotTrainModule(nn.Module):
    """Denoiser + DSG encoder trained together (the encoder is absent in the text-only ablation)."""

    def __init__(self, denoiser: SlotDenoiser, dsg_encoder: nn.Module | None) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.dsg_encoder = dsg_encoder


def _build_module(
    cfg: SlotTrainConfig, ae: SlotAutoencoder, vocab: Any, text_dim: int, max_slots: int
) -> SlotTrainModule:
    from ..models.dsg_encoder import DSGConditionEncoder

    enc = None
    if cfg.use_dsg:
        enc_cfg: dict[str, Any] = {
            "hidden": cfg.encoder_hidden,
            "num_layers": cfg.encoder_layers,
            "heads": 4,
            "dropout": 0.0,
        }
        if cfg.encoder_arch == "rgtrm":
            enc_cfg["recurrence"] = cfg.recurrence
        enc = DSGConditionEncoder.from_vocab(vocab, cfg.encoder_arch, entity_tokens=True, **enc_cfg)
    den = SlotDenoiser(
        latent_dim=ae.latent_dim,
        num_frames=16,
        max_slots=max_slots,
        width=cfg.width,
        depth=cfg.depth,
        heads=cfg.heads,
        dsg_dim=cfg.encoder_hidden if cfg.use_dsg else None,
        text_dim=text_dim,
    )
    return SlotTrainModule(den, enc)


def lr_factor(cfg: SlotTrainConfig, step: int) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up over ``cfg.warmup`` steps, then constant, then
    (with ``cfg.decay_from``) a linear decay to 0 at ``cfg.max_steps``. The factor depends on the step
    only, so a resumed run, or one continued with a later ``decay_from``, follows the same schedule. A run
    started from exported weights (``cfg.init_from``, fresh optimizer moments) warms up again from
    ``cfg.init_step``."""
    warm = min(1.0, (step - cfg.init_step + 1) / max(1, cfg.warmup))
    if cfg.decay_from is None or step < cfg.decay_from:
        return warm
    return warm * max(0.0, 1.0 - (step - cfg.decay_from) / max(1, cfg.max_steps - cfg.decay_from))


def flow_matching_loss(
    module: SlotTrainModule,
    x0: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    dsgs: list[Any] | None,
    gen: torch.Generator,
) -> torch.Tensor:
    """Rectified-flow loss: ``x_t = (1 - t) x0 + t ε``, target ``ε - x0``, ``t`` logit-normal (SD3)."""
    b, f, e, _ = x0.shape
    t = torch.sigmoid(torch.randn(b, generator=gen)).to(x0.device)
    eps = torch.randn(x0.shape, generator=gen).to(x0.device)
    tt = t.view(b, 1, 1, 1)
    xt = (1 - tt) * x0 + tt * eps
    tok = mask = None
    if module.dsg_encoder is not None and dsgs is not None:
        tok, mask = module.dsg_encoder.entity_tokens(dsgs, f, e)
    pred = module.denoiser(xt, t * 1000, text, text_mask, tok, mask, return_dict=False)[0]
    return torch.mean((pred.float() - (eps - x0).float()) ** 2)


def load_exported_weights(module: SlotTrainModule, pipeline_dir: str | Path) -> None:
    """Load an exported pipeline's (fp16 EMA) denoiser and DSG encoder weights into ``module``, in its dtype.

    How a run continues in a session that has the committed weights but not the run's checkpoints (the
    optimizer moments start afresh; see :func:`lr_factor`). Raises :class:`ValueError` naming the folder
    when a component is missing or does not fit the configured model.
    """
    from safetensors.torch import load_file

    root = Path(pipeline_dir)
    parts = {"denoiser": module.denoiser, "dsg_encoder": module.dsg_encoder}
    for name, part in parts.items():
        if part is None:
            continue
        file = root / name / "diffusion_pytorch_model.safetensors"
        if not file.is_file():
            raise ValueError(f"init_from: {root} has no {name} weights ({file} is missing)")
        state = load_file(str(file))
        ref = part.state_dict()
        wrong = sorted(k for k in ref if k not in state or state[k].shape != ref[k].shape)
        extra = sorted(k for k in state if k not in ref)
        if wrong or extra:
            raise ValueError(
                f"init_from: the {name} weights in {root} do not fit this model "
                f"(missing or other shape: {wrong[:3]}, unexpected: {extra[:3]}); check --width/--depth/--encoder"
            )
        part.load_state_dict({k: v.to(ref[k].dtype) for k, v in state.items()})


def train_slot_denoiser(
    cfg: SlotTrainConfig,
    ae: SlotAutoencoder,
    data: SlotData,
    vocab: Any,
    *,
    empty_text: tuple[torch.Tensor, torch.Tensor],
    eval_hook: Callable[[int, SlotTrainModule], dict[str, float]] | None = None,
    log: Log = _log,
) -> SlotTrainModule:
    """Train (or resume) the slot denoiser on ``data``; returns the module with its EMA weights loaded.

    ``empty_text``: the text encoder's states and mask of ``""`` (the unconditional branch, as the
    pipeline builds it at sampling time). Checkpoints go to ``<output_dir>/checkpoints`` every
    ``checkpoint_every`` steps and at the end; the learning curve to ``<output_dir>/curve.jsonl``.
    """
    from diffusers.training_utils import EMAModel

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg.to_json(out / "train_config.json")
    device = torch.device(cfg.device)
    max_slots = data.z.shape[2]
    module = _build_module(cfg, ae, vocab, data.text.shape[-1], max_slots).to(device)
    ckpt = latest_checkpoint(out / "checkpoints")
    start = 0
    if ckpt is None and cfg.init_from is not None:
        load_exported_weights(module, cfg.init_from)
        start = cfg.init_step
        log(f"initialised from the exported weights in {cfg.init_from}, continuing at step {start}")
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    # the scheduler counts from the run's first step here (init_step for a run started from weights)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s + cfg.init_step))
    ema = EMAModel(params, decay=cfg.ema_decay)
    if ckpt is not None:
        start = int(load_checkpoint(ckpt, module, opt, sched, ema)["step"])
        ema.to(device)
        log(f"resumed from {ckpt} at step {start}")
    z = ae.normalize(data.z.to(device))
    n_ent = data.num_entities.to(device)
    e_text, e_mask = (t.to(device) for t in empty_text)
    curve = (out / "curve.jsonl").open("a", encoding="utf-8")
    t0, step, losses = time.time(), start, []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
    while step < cfg.max_steps:
        if cfg.minutes is not None and time.time() - t0 > cfg.minutes * 60:
            break
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(len(data), (cfg.batch_size,), generator=gen)
        e = int(n_ent[idx].max()) if cfg.use_dsg else max_slots
        x0 = z[idx.to(device), :, :e]
        text = data.text[idx].to(device, torch.float32)
        text_mask = data.text_mask[idx].to(device)
        drop = (torch.rand(cfg.batch_size, generator=gen) < cfg.p_uncond).to(device)
        text = torch.where(drop.view(-1, 1, 1), e_text.expand_as(text), text)
        text_mask = torch.where(drop.view(-1, 1), e_mask.expand_as(text_mask), text_mask)
        dsgs = [None if bool(d) else data.dsgs[int(i)] for i, d in zip(idx, drop)] if cfg.use_dsg else None
        module.train()
        with autocast:
            loss = flow_matching_loss(module, x0, text, text_mask, dsgs, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        ema.step(params)
        step += 1
        losses.append(loss.item())
        if step % 100 == 0:
            el = time.time() - t0
            rate = (step - start) / el
            row = {"step": step, "loss": float(np.mean(losses[-100:])), "minutes": el / 60, "steps_per_s": rate}
            log(f"step {step} loss {row['loss']:.4f} {row['steps_per_s']:.2f} steps/s {row['minutes']:.1f} min")
            if eval_hook is not None and cfg.eval_every and step % cfg.eval_every == 0:
                row.update(_with_ema(ema, params, lambda at=step: eval_hook(at, module)))
                log(f"  eval {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("step",)))
            curve.write(json.dumps(row) + "\n")
            curve.flush()
        if step % cfg.checkpoint_every == 0:
            save_checkpoint(out / "checkpoints", step, module, opt, sched, ema)
    save_checkpoint(out / "checkpoints", step, module, opt, sched, ema)
    curve.close()
    ema.copy_to(params)
    module.eval()
    return module


def _with_ema(ema: Any, params: list[nn.Parameter], fn: Callable[[], Any]) -> Any:
    ema.store(params)
    ema.copy_to(params)
    try:
        return fn()
    finally:
        ema.restore(params)


def build_slot_pipeline(module: SlotTrainModule, ae: SlotAutoencoder, cfg: SlotTrainConfig) -> Any:
    """The :class:`~vdm.slots.SlotVDMPipeline` of a trained module (its own copy of nothing: shares weights)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    from .pipeline import SlotVDMPipeline

    pipe = SlotVDMPipeline(
        module.denoiser,
        ae,
        FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0),
        module.dsg_encoder,
        planner_spec=cfg.planner_spec,
        planner_kwargs=cfg.planner_kwargs,
        num_frames=16,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
