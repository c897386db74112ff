"""The default model's recipe as one resumable command: ``python -m vdm.slots.recipe STAGE --out DIR``.

Stages (each skips what is already done, so rerunning the command resumes):

* ``autoencoder``: stage I, :func:`~vdm.slots.training.train_slot_autoencoder` -> ``DIR/autoencoder``;
* ``data``: world training videos -> slot latents + planned DSGs + text states -> ``DIR/data``
  (``--planner-kwargs`` e.g. ``'{"imagine": false}'`` for the "w/o imagination" ablation, ``--gold`` for
  stage II on gold DSGs, ``--clip-times`` to align each planned DSG to its clip's event times, ``--retime
  BASE`` to do that for the videos of an existing data folder);
* ``denoiser``: stage III, :func:`~vdm.slots.training.train_slot_denoiser` -> ``DIR/<name>/checkpoints``,
  then the exported fp16 pipeline in ``DIR/<name>/pipeline``; ``--text-only`` for "w/o Dysen",
  ``--encoder rgnn`` for "RGTrm -> RGNN";
* ``tune``: choose the exported pipeline's guidance and noise scale again on validation prompts (the
  ``denoiser`` stage does this before exporting unless ``--no-tune-guidance``);
* ``evaluate``: world test prompts of levels 1-3 through the exported pipeline (its own planner), the
  parser's scores, and the DSG-swap check (each prompt given another prompt's DSG).

The device is ``cuda`` when available unless ``--device`` says otherwise; the same command runs on both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["main"]


def _threads(n: int | None) -> None:
    if n:
        torch.set_num_threads(n)


def _text_encoder() -> Any:
    """The training text window: 32 tokens hold every level 1-3 caption (at most 28); the exported pipeline
    reads up to ``SlotVDMPipeline``'s ``max_text_length`` at generation."""
    from ..text import TextEncoder

    return TextEncoder.from_pretrained(None, max_length=32)


def stage_autoencoder(args: argparse.Namespace) -> None:
    from .autoencoder import SlotAutoencoder
    from .training import train_slot_autoencoder

    path = Path(args.out) / "autoencoder"
    if (path / "config.json").exists():
        print(f"stage I: {path} exists, skipped")
        return
    train_slot_autoencoder(path, steps=args.steps or 600, device=args.device, seed=args.seed)
    SlotAutoencoder.from_pretrained(path)  # the saved folder loads


def stage_data(args: argparse.Namespace) -> None:
    from ..pipelines import load_planner
    from .autoencoder import SlotAutoencoder
    from .data import SlotData, build_slot_data, slot_world, world_golds

    out = Path(args.out) / (args.data_name or "data")
    if (out / "slots.safetensors").exists():
        print(f"data: {out} exists, skipped")
        return
    ae = SlotAutoencoder.from_pretrained(Path(args.out) / "autoencoder")
    kwargs = {"colour_in_label": True, **json.loads(args.planner_kwargs or "{}")}
    planner = None if args.gold else load_planner(args.planner, **kwargs)
    t0 = time.time()
    if args.retime:  # the videos of another data folder, their DSGs aligned to the clips' event times
        base = SlotData.load(Path(args.out) / args.retime)
        world = slot_world(args.size, levels=args.levels, seed=args.seed)
        data = base.with_clip_times(world_golds(base.captions, world))
        _save_data(data, out, args, kwargs, t0)
        return
    if args.replan:  # the videos of another data folder, planned again (no rendering, no text encoding)
        if planner is None:
            raise SystemExit("--replan needs a planner (not --gold)")
        base = SlotData.load(Path(args.out) / args.replan)
        data = base.with_dsgs([planner.plan(c) for c in base.captions])
        _save_data(data, out, args, kwargs, t0)
        return
    text = _text_encoder()

    def progress(done: int, total: int) -> None:
        print(f"data: {done}/{total} videos, {time.time() - t0:.0f} s", flush=True)

    data = build_slot_data(
        ae,
        args.size,
        levels=tuple(args.levels),
        planner=planner,
        text_encoder=lambda c: text(c, "cpu"),
        seed=args.seed,
        clip_times=args.clip_times,
        progress=progress,
    )
    _save_data(data, out, args, kwargs, t0)


def _save_data(data: Any, out: Path, args: argparse.Namespace, kwargs: dict[str, Any], t0: float) -> None:
    data.meta.update(
        {
            "planner": args.planner,
            "planner_kwargs": kwargs,
            "gold": args.gold,
            "replan": args.replan,
            "retime": args.retime,
            "clip_times": bool(args.clip_times or args.retime),
        }
    )
    data.save(out)
    (out / "meta.json").write_text(json.dumps({**data.meta, "videos": len(data), "skipped": data.skipped}), "utf-8")
    print(f"data: {len(data)} videos ({data.skipped} skipped: planned entities differ) in {time.time() - t0:.0f} s")


def _vocab() -> Any:
    from ..training.world_source import WorldSource
    from ..world.config import WorldConfig

    return WorldSource(WorldConfig(num_frames=16, height=32, width=32)).vocab()


def _eval_hook(args: argparse.Namespace, ae: Any, cfg: Any) -> Any:
    from ..training.world_eval import evaluate_world_prompts
    from .training import build_slot_pipeline

    def hook(step: int, module: Any) -> dict[str, float]:
        was = module.training
        module.eval()
        try:
            pipe = build_slot_pipeline(module, ae, cfg)
            m = evaluate_world_prompts(
                pipe,
                num=args.eval_prompts,
                levels=(1, 2, 3),
                split="val",
                guidance=args.eval_guidance,
                sampling=None if args.eval_noise_scale is None else {"noise_scale": args.eval_noise_scale},
            )
        finally:
            module.train(was)
        return dict(m["all"])

    return hook


def stage_denoiser(args: argparse.Namespace) -> None:
    from .autoencoder import SlotAutoencoder
    from .data import SlotData
    from .training import SlotTrainConfig, build_slot_pipeline, train_slot_denoiser

    root = Path(args.out)
    run = root / args.name
    ae = SlotAutoencoder.from_pretrained(root / "autoencoder")
    data = SlotData.load(root / (args.data_name or "data"))
    cfg = SlotTrainConfig(
        output_dir=str(run),
        use_dsg=not args.text_only,
        encoder_arch=args.encoder,
        recurrence=args.recurrence,
        width=args.width,
        depth=args.depth,
        batch_size=args.batch_size,
        lr=args.lr,
        decay_from=args.decay_from,
        init_from=args.init_from,
        init_step=args.init_step,
        max_steps=args.steps or 100_000,
        minutes=args.minutes,
        eval_every=args.eval_every,
        eval_prompts=args.eval_prompts,
        seed=args.seed,
        device=args.device,
        bf16=args.bf16,
        planner_kwargs={"colour_in_label": True, **json.loads(args.planner_kwargs or "{}")},
    )
    text = _text_encoder()
    empty = text([""], "cpu")
    hook = _eval_hook(args, ae, cfg) if args.eval_every else None
    module = train_slot_denoiser(cfg, ae, data, _vocab(), empty_text=empty, eval_hook=hook)
    pipe = build_slot_pipeline(module.to("cpu"), ae, cfg)
    if args.tune_guidance:
        _tune(pipe, run, args)
    export = run / "pipeline"
    pipe.to(torch.float16).save_pretrained(export)
    print(f"exported {export}")


def _tune(pipe: Any, run: Path, args: argparse.Namespace) -> None:
    """Choose guidance and noise scale on validation prompts; store them as the pipeline's defaults."""
    from ..training.world_eval import tune_sampling

    best, table = tune_sampling(pipe, args.guidance_grid, args.noise_grid, num=args.tune_prompts)
    for row in table:
        print("  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    (run / "sampling.json").write_text(json.dumps({"best": best, "val": table}, indent=2), "utf-8")
    pipe.register_to_config(default_guidance=best["guidance"], default_noise_scale=best["noise_scale"])
    print(f"default_guidance = {best['guidance']}, default_noise_scale = {best['noise_scale']} (validation)")


def stage_tune(args: argparse.Namespace) -> None:
    """Re-choose the sampling defaults of an exported pipeline (``--name``) and save it again."""
    from .pipeline import SlotVDMPipeline

    run = Path(args.out) / args.name
    pipe = SlotVDMPipeline.from_pretrained(run / "pipeline", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    _tune(pipe, run, args)
    pipe.to(torch.float16).save_pretrained(run / "pipeline")


def stage_evaluate(args: argparse.Namespace) -> None:
    from ..training.world_eval import evaluate_world_prompts
    from .pipeline import SlotVDMPipeline

    model = Path(args.model) if args.model else Path(args.out) / args.name / "pipeline"
    pipe = SlotVDMPipeline.from_pretrained(model, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    result = evaluate_world_prompts(
        pipe, num=args.num, levels=tuple(args.levels), split="test", swap=not args.no_swap, seed=args.seed
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")


STAGES = {
    "autoencoder": stage_autoencoder,
    "data": stage_data,
    "denoiser": stage_denoiser,
    "evaluate": stage_evaluate,
    "tune": stage_tune,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vdm.slots.recipe", description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=sorted(STAGES))
    p.add_argument("--out", default="outputs/default-slots", help="run folder (all stages)")
    p.add_argument("--name", default="dsg", help="denoiser run name under --out (denoiser, evaluate)")
    p.add_argument("--data-name", default=None, help="data folder name under --out (default: data)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (stage I default 600)")
    p.add_argument("--minutes", type=float, default=None, help="wall-time budget of this invocation")
    p.add_argument("--size", type=int, default=20_000, help="training videos (data)")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--planner", default="dysen:RuleBasedPlanner")
    p.add_argument("--planner-kwargs", default=None, help="JSON, merged over {'colour_in_label': true}")
    p.add_argument("--gold", action="store_true", help="data: gold DSGs (stage II) instead of planned ones")
    p.add_argument("--replan", default=None, help="data: re-plan the videos of this data folder (e.g. data)")
    p.add_argument(
        "--clip-times",
        action="store_true",
        help="data: align each planned DSG to its clip's event times (not spread evenly)",
    )
    p.add_argument("--retime", default=None, help="data: the videos of this data folder, DSGs aligned to clip times")
    p.add_argument("--text-only", action="store_true", help="denoiser: the 'w/o Dysen' ablation")
    p.add_argument("--encoder", default="rgtrm", help="DSG encoder: rgtrm, rgnn, transformer, gat, gcn")
    p.add_argument(
        "--recurrence",
        default="scan",
        help="RGTrm eq. 4 mode: scan (measured best on the video task, docs/training.md), paper, none",
    )
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--decay-from", type=int, default=None, help="denoiser: decay the learning rate linearly to 0 from this step"
    )
    p.add_argument(
        "--init-from",
        default=None,
        help="denoiser: start a run that has no checkpoint from an exported pipeline (e.g. vdm/weights/default)",
    )
    p.add_argument("--init-step", type=int, default=0, help="denoiser: the step those weights were trained to")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument(
        "--no-tune-guidance",
        dest="tune_guidance",
        action="store_false",
        help="denoiser: keep guidance 3 instead of choosing it on validation prompts",
    )
    p.add_argument("--guidance-grid", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0], help="tune: candidates")
    p.add_argument("--noise-grid", type=float, nargs="+", default=[1.0, 0.75, 0.5], help="tune: noise scales")
    p.add_argument("--tune-prompts", type=int, default=24, help="denoiser: validation prompts per candidate setting")
    p.add_argument("--eval-prompts", type=int, default=16)
    p.add_argument("--eval-guidance", type=float, default=1.0, help="guidance of the in-training evaluation")
    p.add_argument("--eval-noise-scale", type=float, default=None, help="noise scale of the in-training evaluation")
    p.add_argument("--model", default=None, help="evaluate: pipeline folder (default: --out/--name/pipeline)")
    p.add_argument("--num", type=int, default=96, help="evaluate: test prompts (spread over --levels)")
    p.add_argument("--no-swap", action="store_true", help="evaluate: skip the DSG-swap check")
    p.add_argument("--json", default=None, help="evaluate: write the result here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _threads(args.threads)
    STAGES[args.stage](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
