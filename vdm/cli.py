"""``dysen-vdm``: one entry point with subcommands ``plan``, ``generate``, ``train``, ``evaluate``, ``annotate``.

The command line is the composition root of the library: it is the only place that names a planner
package (by spec string, ``--planner dysen:RuleBasedPlanner``), so :mod:`vdm` itself stays free of
:mod:`dysen` imports. Everything runs offline: Hugging Face hub look-ups are switched off unless
``HF_HUB_OFFLINE`` is set otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MODEL", "build_parser", "main"]

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _load_dsg_file(path: str) -> Any:
    import dsg

    try:
        return dsg.load_json(path)
    except (OSError, dsg.DSGError) as exc:
        raise CLIError(f"cannot read DSG file {path}: {exc}") from exc


def cmd_plan(args: argparse.Namespace) -> None:
    import dsg

    from .pipelines import load_planner

    planner = load_planner(args.planner)
    out = Path(args.out)
    graph = planner.plan(args.prompt)
    dsg.save_json(graph, out / "dsg.json")
    dsg.draw_timeline(graph, out / "dsg.png")
    n_seg = len(graph.segments())
    print(f"planned {len(graph.schedule or [])} events, {graph.num_frames} steps, {n_seg} segments")
    for ev in graph.schedule or []:
        print(f"  ({ev.agent}, {ev.predicate}, {ev.target}, ({ev.start}v, {ev.end}v))")
    if graph.provenance.degraded:
        print("degraded: " + "; ".join(graph.provenance.degraded))
    print(f"wrote {out / 'dsg.json'} and {out / 'dsg.png'}")


def _load_pipeline(model: str, planner: str | None, device: str) -> Any:
    from .pipelines import DysenVDMPipeline

    path = Path(model)
    if not (path / "model_index.json").exists():
        raise CLIError(
            f"{path} is not a saved DysenVDMPipeline (no model_index.json). Train one with `dysen-vdm train` "
            f"or use the embedded default ({DEFAULT_MODEL})."
        )
    pipe = DysenVDMPipeline.from_pretrained(str(path))
    pipe.to(device)
    if planner:
        pipe.planner = planner
    return pipe


def cmd_generate(args: argparse.Namespace) -> None:
    import torch

    import dsg

    from .video_io import write_strip, write_video

    t0 = time.time()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    pipe = _load_pipeline(args.model, args.planner, args.device)
    graph = _load_dsg_file(args.dsg) if args.dsg else None
    if graph is None and not args.prompt:
        raise CLIError("give a prompt, or --dsg FILE.json")
    out = pipe(
        prompt=args.prompt or None,
        dsg=graph,
        num_frames=args.frames,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        generator=torch.Generator().manual_seed(args.seed),
        interpolate=args.interpolate,
        output_type="pt",
    )
    video = out.frames[0]  # (F, 3, H, W) in [0, 1]
    dest = Path(args.out)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in args.format.split(","):
        path = dest / f"video.{fmt.strip()}"
        write_video(path, video, fps=args.fps * (2**args.interpolate), value_range=(0.0, 1.0))
        written.append(path)
    used = out.dsgs[0]
    if used is not None:
        dsg.save_json(used, dest / "dsg.json")
        dsg.draw_timeline(used, dest / "dsg.png")
        write_strip(
            dest / "strip.png", out.keyframes[0], dsg.align(used, out.keyframes[0].shape[0]), value_range=(0.0, 1.0)
        )
        written += [dest / "dsg.json", dest / "dsg.png", dest / "strip.png"]
    print(f"generated {video.shape[0]} frames of {video.shape[-1]}x{video.shape[-2]} in {time.time() - t0:.1f} s")
    for p in written:
        print(f"  {p}")


def cmd_train(args: argparse.Namespace) -> None:
    from .training.cli import run_train

    run_train(args)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .training.cli import run_evaluate

    run_evaluate(args)


def cmd_annotate(args: argparse.Namespace) -> None:
    mod = _planner_cli(args.cli_module)
    mod.run_annotate(args)


def _planner_cli(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise CLIError(f"`annotate` needs the planner package's CLI module {name!r}: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dysen-vdm", description="Dynamics-aware text-to-video diffusion with DSGs.")
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser("plan", help="plan a prompt into a DSG (JSON + timeline picture)")
    pl.add_argument("prompt")
    pl.add_argument("--planner", default="dysen:RuleBasedPlanner", help="planner spec 'module:Class'")
    pl.add_argument("--out", default="outputs/plan")
    pl.set_defaults(func=cmd_plan)

    ge = sub.add_parser("generate", help="prompt (or DSG) -> video (MP4/GIF), DSG JSON and pictures")
    ge.add_argument("prompt", nargs="?", default="")
    ge.add_argument("--dsg", help="condition on this DSG JSON file (an edited plan) instead of planning")
    ge.add_argument("--model", default=str(DEFAULT_MODEL), help="saved pipeline folder (default: embedded model)")
    ge.add_argument("--planner", default=None, help="override the pipeline's planner spec 'module:Class'")
    ge.add_argument("--out", default="outputs/generate")
    ge.add_argument("--steps", type=int, default=20)
    ge.add_argument("--guidance", type=float, default=3.0)
    ge.add_argument("--frames", type=int, default=None)
    ge.add_argument("--interpolate", type=int, default=2, help="frame-rate doublings after decoding (paper: 2)")
    ge.add_argument("--seed", type=int, default=0)
    ge.add_argument("--fps", type=int, default=8, help="keyframe rate; the file rate is fps * 2**interpolate")
    ge.add_argument("--format", default="mp4,gif")
    ge.add_argument("--device", default="cpu")
    ge.set_defaults(func=cmd_generate)

    from .training.cli import add_evaluate_arguments, add_train_arguments

    tr = sub.add_parser("train", help="train a stage (vae | dsg | planner | text); resumable")
    add_train_arguments(tr)
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="score a pipeline on the procedural world (TriRec, event order)")
    add_evaluate_arguments(ev)
    ev.set_defaults(func=cmd_evaluate)

    an = sub.add_parser("annotate", help="captions JSONL -> DSGs JSONL with a planner (concurrent, resumable)")
    an.add_argument("--cli-module", default="dysen.cli", help="module providing add_annotate_arguments/run_annotate")
    try:
        _planner_cli(an.get_default("cli_module") or "dysen.cli").add_annotate_arguments(an)
    except (CLIError, AttributeError):
        an.add_argument("rest", nargs=argparse.REMAINDER)
    an.set_defaults(func=cmd_annotate)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # typed library errors: print the message, keep tracebacks for bugs
        from dsg import DSGError

        if isinstance(exc, DSGError | ValueError | FileNotFoundError):
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
