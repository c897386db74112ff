"""``dysen-vdm``: one entry point with subcommands ``plan``, ``generate``, ``train``, ``evaluate``, ``annotate``.

The command line is the composition root of the library: it is the only place that names a planner
package (by spec string, ``--planner dysen:RuleBasedPlanner``), so :mod:`vdm` itself stays free of
:mod:`dysen` imports. Everything runs offline: Hugging Face hub look-ups are switched off unless
``HF_HUB_OFFLINE`` is set otherwise.

A model folder is data: its ``planner_spec`` must name a registered planner
(:func:`vdm.pipelines.register_planner`) unless ``--trust-remote-code`` is given. Bad input (a value out of
range, a path that is a file where a folder is needed, a damaged model folder, an unavailable device) is
reported in one line naming it, with exit status 2 and no traceback; ``annotate`` exits 1 when a caption
failed or every caption fell back (see :func:`dysen.cli.run_annotate`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from dsg.argtypes import finite_float, non_negative_int, positive_int

__all__ = ["DEFAULT_MODEL", "build_parser", "main"]

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"


class CLIError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def check_out_dir(path: str | Path, what: str = "--out") -> Path:
    """``path`` as an output folder that exists or can be made: not a file, not under a file."""
    out = Path(path)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            where = "is a file" if p == out else f"lies under {p}, which is a file"
            raise CLIError(f"{what} {out} {where}; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"{what} {out}: cannot create the folder: {exc.strerror or exc}") from exc
    return out


def check_device(name: str) -> str:
    """A torch device that exists on this machine."""
    import torch

    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise CLIError(f"--device {name!r} is not a torch device: {exc}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise CLIError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise CLIError(f"--device {name}: MPS is not available on this machine (use --device cpu)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise CLIError(f"--device {name}: unsupported device type {dev.type!r} (cpu, cuda or mps)")
    return name


def _load_dsg_file(path: str) -> Any:
    import dsg

    try:
        return dsg.load_json(path)
    except (OSError, dsg.DSGError) as exc:
        raise CLIError(f"cannot read DSG file {path}: {exc}") from exc


def cmd_plan(args: argparse.Namespace) -> None:
    import dsg

    from .pipelines import load_planner

    out = check_out_dir(args.out)
    existing = [p for p in (out / "dsg.json", out / "dsg.png") if p.exists()]
    if existing and not args.overwrite:
        raise CLIError(f"{existing[0]} already exists; pass --overwrite to replace it, or another --out")
    planner = load_planner(args.planner, trust_remote_code=args.trust_remote_code, origin="--planner")
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


def _load_pipeline(model: str, planner: str | None, device: str, trust_remote_code: bool = False) -> Any:
    from .pipelines import PIPELINE_CLASSES, pipeline_class
    from .pipelines.planner_spec import check_planner_spec

    device = check_device(device)
    path = Path(model)
    index = path / "model_index.json"
    if not index.is_file():
        raise CLIError(
            f"{path} is not a saved DysenVDMPipeline (no model_index.json). Train one with `dysen-vdm train` "
            f"or use the embedded default ({DEFAULT_MODEL})."
        )
    try:
        config = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CLIError(f"{index} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("_class_name") not in PIPELINE_CLASSES:
        known = ", ".join(repr(k) for k in PIPELINE_CLASSES)
        raise CLIError(f"{index} does not describe a dysen-vdm pipeline (its _class_name must be one of {known})")
    if not planner:  # refuse a folder naming unregistered code before anything is loaded
        check_planner_spec(
            config.get("planner_spec", "dysen:RuleBasedPlanner"),
            trust_remote_code=trust_remote_code,
            origin=str(index),
        )
    try:
        cls = pipeline_class(config["_class_name"])
        pipe = cls.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    except Exception as exc:  # diffusers/safetensors/torch raise many types for a damaged folder
        raise CLIError(f"cannot load the pipeline in {path}: {type(exc).__name__}: {_short(exc)}") from exc
    try:
        pipe.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise CLIError(f"cannot move the pipeline to --device {device}: {_short(exc)}") from exc
    if planner:
        pipe.planner = planner
    return pipe


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def cmd_generate(args: argparse.Namespace) -> None:
    import torch

    import dsg

    from .video_io import write_strip, write_video

    t0 = time.time()
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("mp4", "gif")]
    if bad or not formats:
        raise CLIError(f"--format {args.format!r}: give mp4, gif or both (comma-separated)")
    dest = check_out_dir(args.out)
    names = [f"video.{f}" for f in formats] + ["dsg.json", "dsg.png", "strip.png"]
    existing = [dest / n for n in names if (dest / n).exists()]
    if existing and not args.overwrite:
        raise CLIError(f"{existing[0]} already exists; pass --overwrite to replace it, or another --out")
    graph = _load_dsg_file(args.dsg) if args.dsg else None
    if graph is None and not args.prompt:
        raise CLIError("give a prompt, or --dsg FILE.json")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    pipe = _load_pipeline(args.model, args.planner, args.device, args.trust_remote_code)
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
    written = []
    for fmt in formats:
        path = dest / f"video.{fmt}"
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


def cmd_annotate(args: argparse.Namespace) -> int:
    mod = _planner_cli(args.cli_module)
    code = mod.run_annotate(args)
    return code if isinstance(code, int) else 0


def _planner_cli(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise CLIError(f"`annotate` needs the planner package's CLI module {name!r}: {exc}") from exc


def _trust_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a planner spec that is not registered (it imports and runs code named by the model folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dysen-vdm", description="Dynamics-aware text-to-video diffusion with DSGs.")
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser("plan", help="plan a prompt into a DSG (JSON + timeline picture)")
    pl.add_argument("prompt")
    pl.add_argument("--planner", default="dysen:RuleBasedPlanner", help="registered planner spec 'module:Class'")
    pl.add_argument("--out", default="outputs/plan")
    pl.add_argument("--overwrite", action="store_true", help="replace dsg.json/dsg.png already in --out")
    _trust_argument(pl)
    pl.set_defaults(func=cmd_plan)

    ge = sub.add_parser("generate", help="prompt (or DSG) -> video (MP4/GIF), DSG JSON and pictures")
    ge.add_argument("prompt", nargs="?", default="")
    ge.add_argument("--dsg", help="condition on this DSG JSON file (an edited plan) instead of planning")
    ge.add_argument("--model", default=str(DEFAULT_MODEL), help="saved pipeline folder (default: embedded model)")
    ge.add_argument("--planner", default=None, help="override the pipeline's planner spec 'module:Class'")
    ge.add_argument("--out", default="outputs/generate")
    ge.add_argument("--steps", type=positive_int, default=20, help="solver steps (>= 1)")
    ge.add_argument(
        "--guidance", type=finite_float, default=None, help="classifier-free guidance (<= 1: off; default: the model's)"
    )
    ge.add_argument("--frames", type=positive_int, default=None, help="keyframes (default: the model's)")
    ge.add_argument(
        "--interpolate", type=non_negative_int, default=2, help="frame-rate doublings after decoding (paper: 2)"
    )
    ge.add_argument("--seed", type=int, default=0)
    ge.add_argument("--fps", type=positive_int, default=8, help="keyframe rate; the file rate is fps * 2**interpolate")
    ge.add_argument("--format", default="mp4,gif")
    ge.add_argument("--overwrite", action="store_true", help="replace video/DSG files already in --out")
    ge.add_argument("--device", default="cpu")
    _trust_argument(ge)
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
        code = args.func(args)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # typed library errors: print the message, keep tracebacks for bugs
        from dsg import DSGError

        if isinstance(exc, DSGError | ValueError | OSError) or type(exc).__module__.startswith("dysen"):
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
