"""``dysen-vdm train`` and ``dysen-vdm evaluate``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dsg import argtypes as t

from .config import TRAIN_PRESETS, TrainConfig

__all__ = ["add_evaluate_arguments", "add_train_arguments", "config_from_args", "run_evaluate", "run_train"]


def _trust(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a planner spec that is not registered (it imports and runs code named by the file)",
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="tiny", choices=sorted(TRAIN_PRESETS), help="named configuration")
    p.add_argument("--config", help="a train_config.json to start from (overrides the preset)")
    p.add_argument("--output-dir", help="where checkpoints and weights go (resumes if it holds checkpoints)")
    p.add_argument("--max-steps", type=t.positive_int)
    p.add_argument("--max-minutes", type=t.positive_float, help="stop (and save) after this much wall time")
    p.add_argument("--batch-size", type=t.positive_int)
    p.add_argument("--vae-path", help="stage-I VAE folder for stages II/III")
    p.add_argument(
        "--data",
        metavar="SOURCE",
        help="world (default), folder:DIR[,CAPTIONS], webvid:CSV[,ROOT], msrvtt:ANNOTATIONS[,ROOT] or "
        "ucf101:ROOT[,SPLITDIR]; real videos are encoded once into a latent cache (see docs/scaling.md)",
    )
    p.add_argument("--dsgs", help="real data, stage dsg: the DSGs of the captions (`dysen-vdm annotate` output)")
    p.add_argument("--latent-cache", help="real data: the latent cache folder (built or resumed if incomplete)")
    p.add_argument(
        "--backbone-path",
        help="a pretrained diffusers UNet3D/Latte folder (or a pipeline folder with unet/): DSG fusion as a "
        "zero-init adapter, base frozen, only the DSG branch trained",
    )
    p.add_argument("--lora-rank", type=t.positive_int, help="with --backbone-path: also LoRA on the base (needs peft)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any TrainConfig field; VALUE is parsed as JSON when it can be",
    )
    p.add_argument("--export", metavar="DIR", help="after training, write a pipeline folder here (needs --vae-path)")
    p.add_argument("--export-dtype", default="float16", choices=["float16", "float32"])
    _trust(p)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig(**TRAIN_PRESETS[args.preset])
    changes: dict[str, Any] = {}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            changes[key] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key] = raw
    keys = ("output_dir", "max_steps", "max_minutes", "batch_size", "vae_path", "data", "dsgs", "latent_cache")
    for key in (*keys, "backbone_path", "lora_rank"):
        val = getattr(args, key, None)
        if val is not None:
            changes[key] = val
    return cfg.override(**changes)


def _allow_planner(cfg: TrainConfig, args: argparse.Namespace) -> None:
    """The config's planner spec must be registered, or trusted with ``--trust-remote-code`` (then it is
    registered for this process, so that the trainer and its evaluation pipelines can load it)."""
    if cfg.stage == "vae":
        return
    from ..pipelines.planner_spec import check_planner_spec, register_planner, registered_planners

    origin = args.config or "the training config"
    trust = bool(getattr(args, "trust_remote_code", False))
    check_planner_spec(cfg.planner_spec, trust_remote_code=trust, origin=origin)
    if cfg.planner_spec not in registered_planners():
        register_planner(cfg.planner_spec, cfg.planner_spec)


def run_train(args: argparse.Namespace) -> None:
    from .export import export_pipeline
    from .trainer import train
    from .world_source import CachedSource, WorldSource, build_cache, world_eval_hook

    cfg = config_from_args(args)
    _allow_planner(cfg, args)
    if cfg.output_dir:
        from ..cli import check_out_dir

        check_out_dir(cfg.output_dir, "--output-dir")
    if args.export:
        from ..cli import check_out_dir

        check_out_dir(args.export, "--export")
    t0 = time.time()
    hook = None
    if cfg.data != "world":
        from .real_source import prepare_real_source

        source: Any = prepare_real_source(cfg)
        print(f"real data {cfg.data}: {len(source)} cached clips ({time.time() - t0:.0f} s)")
    else:
        world = WorldSource.from_config(cfg)
        cache = (
            cfg.data_cache
            or f"outputs/world-cache-{cfg.num_frames}x{cfg.resolution}-l{cfg.max_events}-n{cfg.train_size}"
        )
        build_cache(world, cache, cfg.train_size, workers=cfg.data_workers)
        source = CachedSource.load(cache, world)
        print(f"world data: {len(source)} videos in {cache} ({time.time() - t0:.0f} s)")
        hook = world_eval_hook(cfg, world) if cfg.eval_every and cfg.stage != "vae" else None
    result = train(cfg, source, eval_hook=hook)
    from accelerate import PartialState

    if not PartialState().is_main_process:  # export (and its messages) belong to the main process
        return
    print(
        f"trained {result['steps']} steps at {result['steps_per_s']:.2f} steps/s, final loss {result['final_loss']:.4f}"
    )
    if args.export:
        if cfg.stage == "vae":
            raise ValueError("--export needs a denoiser stage (dsg, planner or text), not the VAE stage")
        if not cfg.vae_path:
            raise ValueError("--export needs --vae-path (the stage-I VAE the denoiser was trained with)")
        out = export_pipeline(cfg.output_dir, cfg.vae_path, args.export, dtype=args.export_dtype)
        print(f"exported the pipeline to {out}")


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    from ..cli import DEFAULT_MODEL

    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--num", type=t.positive_int, default=32, help="test prompts of the procedural world")
    p.add_argument(
        "--levels",
        "--level",
        type=int,
        nargs="+",
        choices=range(1, 7),
        metavar="{1..6}",
        default=[1, 2, 3],
        help="world difficulty levels 1-6 (1-3: 1-3 sequential events); --num is spread over them",
    )
    p.add_argument(
        "--swap",
        action="store_true",
        help="also give each prompt another prompt's DSG and report how far order accuracy falls",
    )
    p.add_argument(
        "--dsg-source",
        default="planner",
        choices=["planner", "gold"],
        help="condition on DSGs planned from the captions (default) or on the gold DSGs",
    )
    p.add_argument("--steps", type=t.positive_int, default=20)
    p.add_argument("--guidance", type=t.finite_float, default=None, help="default: the pipeline's default_guidance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        help="evaluate once per sampling seed and report mean ± std over them (the noise of one draw of 96 "
        "prompts is several points); replaces --seed",
    )
    p.add_argument("--batch-size", type=t.positive_int, default=16)
    p.add_argument("--json", help="also write the metrics as JSON here")
    p.add_argument("--device", default="cpu")
    _trust(p)


def _print_metrics(values: dict[str, Any], std: dict[str, Any] | None = None) -> None:
    """One line per metric group (``[group] name value ...``; scalars as ``name value``), ``± std`` beside each
    value when ``std`` (same shape) is given."""

    def fmt(value: float, spread: float | None) -> str:
        return f"{value:.3f}" if spread is None else f"{value:.3f} ± {spread:.3f}"

    for group, metrics in values.items():
        spread = None if std is None else std[group]
        if not isinstance(metrics, dict):
            print(f"{group}  {fmt(metrics, spread)}")
            continue
        cells = (f"{k} {fmt(v, None if spread is None else spread[k])}" for k, v in metrics.items())
        print(f"[{group}] " + "  ".join(cells))


def run_evaluate(args: argparse.Namespace) -> None:
    from ..cli import CLIError, _load_pipeline
    from .world_eval import evaluate_world_prompts, summarize_seeds

    if args.json:
        target = Path(args.json)
        if target.is_dir() or (target.parent.exists() and not target.parent.is_dir()):
            raise CLIError(f"--json {target}: not a file path (a folder, or under a file)")
        if not target.parent.exists():
            raise CLIError(f"--json {target}: its folder {target.parent} does not exist")
    pipe = _load_pipeline(args.model, None, getattr(args, "device", "cpu"), getattr(args, "trust_remote_code", False))
    if args.num < len(args.levels):
        raise CLIError(f"--num {args.num}: needs at least one prompt per level ({len(args.levels)} levels)")
    seeds = args.seeds if getattr(args, "seeds", None) else [args.seed]
    runs = {
        seed: evaluate_world_prompts(
            pipe,
            num=args.num,
            levels=tuple(args.levels),
            swap=args.swap,
            dsg_source=args.dsg_source,
            steps=args.steps,
            guidance=args.guidance,
            seed=seed,
            batch_size=args.batch_size,
        )
        for seed in seeds
    }
    if len(seeds) == 1:
        result: dict[str, Any] = runs[seeds[0]]
        _print_metrics(result)
    else:
        mean, std = summarize_seeds(list(runs.values()))
        result = {"seeds": seeds, "mean": mean, "std": std, "per_seed": {str(k): v for k, v in runs.items()}}
        print(f"mean ± std over sampling seeds {seeds}")
        _print_metrics(mean, std)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
