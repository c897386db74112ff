"""World evaluation of any video pipeline over several difficulty levels, with the DSG-swap check.

Prompts are world test captions, planned by the pipeline's own planner (as a user's prompt would be);
generated videos are read back by the world's visual parser (:func:`vdm.world.parser.score_video`) and
scored against the prompts' gold events. The *swap* check gives every prompt the planned DSG of another
prompt of the same level (its text unchanged): if the DSG steers the video, order accuracy against the
prompt's own gold falls, and the video follows the DSG it was given (``swap_follows_dsg``).

The gold of a prompt is the world's gold DSG restricted to the entities the caption tells of
(:func:`prompted_gold`): at levels 1-3 the world places bystanders that the caption never mentions, and no
text-to-video model can be asked to draw an entity it was not told about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from dsg import DynamicSceneGraph, EventSchedule, SceneGraph

from ..world.config import WorldConfig
from ..world.parser import WorldParser, score_video
from .world_source import WorldSource, generate_videos, is_clean
from .world_source import _nanmean as _mean

__all__ = [
    "VIDEO_SCORE_KEYS",
    "evaluate_world_prompts",
    "prompted_entities",
    "prompted_gold",
    "score_videos",
    "strict_order_accuracy",
    "summarize",
    "summarize_seeds",
    "tune_sampling",
]

VIDEO_SCORE_KEYS = (
    "trirec",
    "trirec_actions",
    "trirec_actions_video",
    "faithfulness",
    "precision",
    "order_accuracy",
    "kendall_tau",
    "shape_accuracy",
)


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Means of the per-video scores; ``order_accuracy_multi`` over prompts with >= 2 events only."""
    out = {k: _mean([r[k] for r in rows]) for k in VIDEO_SCORE_KEYS}
    out["clean"] = _mean([float(r["clean"]) for r in rows])
    out["order_accuracy_multi"] = _mean([r["order_accuracy"] for r in rows if r["events"] >= 2])
    out["order_strict_multi"] = _mean([r["order_strict"] for r in rows if r["events"] >= 2])
    out["videos"] = float(len(rows))
    return out


def summarize_seeds(results: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and sample standard deviation, entry by entry, of :func:`evaluate_world_prompts` results of the same
    prompts drawn with different sampling seeds (NaN entries are left out; std 0 for a single result)."""
    import statistics

    def stats(values: list[float]) -> tuple[float, float]:
        vals = [v for v in values if v == v]
        if not vals:
            return float("nan"), float("nan")
        return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0

    mean: dict[str, Any] = {}
    std: dict[str, Any] = {}
    for key, first in results[0].items():
        if isinstance(first, dict):
            pairs = {k: stats([float(r[key][k]) for r in results]) for k in first}
            mean[key] = {k: m for k, (m, _) in pairs.items()}
            std[key] = {k: sd for k, (_, sd) in pairs.items()}
        else:
            mean[key], std[key] = stats([float(r[key]) for r in results])
    return mean, std


def strict_order_accuracy(pred: EventSchedule | None, gold: EventSchedule | None) -> float:
    """Pairwise event order where a pair of gold events counts as right only if the video shows *both*
    events (whole triplet, k-th occurrence with k-th) and starts them in the gold order (ties as in the
    gold). ``nan`` for fewer than two gold events. Stricter than :func:`dsg.event_order`, whose matching
    also pairs events that share only a part (e.g. two unary actions of different entities), so a video
    of other events still scores near chance there."""
    gold_events = list(gold or [])
    if len(gold_events) < 2:
        return float("nan")
    seen: dict[tuple[Any, ...], int] = {}
    starts: dict[tuple[Any, ...], list[int]] = {}
    for ev in sorted(pred or [], key=lambda e: e.start):
        starts.setdefault((ev.agent, ev.predicate, ev.target), []).append(ev.start)
    found: list[int | None] = []
    for ev in sorted(gold_events, key=lambda e: e.start):
        key = (ev.agent, ev.predicate, ev.target)
        k = seen.get(key, 0)
        seen[key] = k + 1
        found.append(starts[key][k] if k < len(starts.get(key, [])) else None)
    golds = sorted(gold_events, key=lambda e: e.start)
    right = total = 0
    for a in range(len(golds)):
        for b in range(a + 1, len(golds)):
            total += 1
            fa, fb = found[a], found[b]
            if fa is not None and fb is not None:
                right += (fa > fb) - (fa < fb) == (golds[a].start > golds[b].start) - (golds[a].start < golds[b].start)
    return right / total


def score_videos(videos: torch.Tensor, golds: Sequence[Any], parser: WorldParser) -> list[dict[str, Any]]:
    """One row per video ``(F, 3, H, W)`` in [0, 1]: :data:`VIDEO_SCORE_KEYS` of the world's parser against
    its gold, ``clean``, the gold's number of ``events`` and ``order_strict``
    (:func:`strict_order_accuracy`) — the per-video scoring of ``dysen-vdm evaluate``."""
    rows = []
    for video, gold in zip(videos, golds):
        sc = score_video(video, gold, parser=parser, value_range=(0.0, 1.0))
        row: dict[str, Any] = {k: getattr(sc, k) for k in VIDEO_SCORE_KEYS}
        row["clean"] = is_clean(sc.parsed, gold)
        row["events"] = len(gold.schedule or [])
        row["order_strict"] = strict_order_accuracy(sc.parsed.schedule, gold.schedule)
        rows.append(row)
    return rows


def evaluate_world_prompts(
    pipe: Any,
    *,
    num: int = 96,
    levels: Sequence[int] = (1, 2, 3),
    split: str = "test",
    swap: bool = False,
    dsg_source: str = "planner",
    steps: int = 20,
    guidance: float | None = None,
    seed: int = 0,
    batch_size: int = 16,
    sampling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate ``num`` videos (spread evenly over ``levels``) and score them; with ``swap`` also the
    DSG-swap check. ``dsg_source="gold"`` conditions on the (prompted) gold DSGs instead of the pipeline's
    planner; ``sampling``: further keyword arguments of the pipeline call (e.g. ``noise_scale``). Returns
    overall means (``"all"``), per-level means (``"level<k>"``) and the swap figures."""
    if dsg_source not in ("planner", "gold"):
        raise ValueError(f"dsg_source must be 'planner' or 'gold', got {dsg_source!r}")
    if num < len(levels):
        raise ValueError(f"num must be at least the number of levels ({len(levels)}), got {num}")
    size = pipe.vae.config.sample_size
    cfg = WorldConfig(num_frames=pipe.config.num_frames, height=size, width=size)
    parser = WorldParser(cfg)
    gen = torch.Generator().manual_seed(seed)
    rows: list[dict[str, Any]] = []
    swapped: list[dict[str, Any]] = []
    follows: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for level in levels:
        source = WorldSource(cfg, (level,), split)
        level_rows = []
        count = num // len(levels)
        for start in range(0, count, batch_size):
            idx = list(range(start, min(count, start + batch_size)))
            _, captions, full = source.examples(idx)
            golds = [prompted_gold(g) for g in full]
            uses_dsg = getattr(pipe.denoiser, "uses_dsg", False)
            plans = (golds if dsg_source == "gold" else pipe.plan(captions)) if uses_dsg else None
            videos = generate_videos(pipe, captions, plans, gen, steps, guidance, sampling)
            level_rows += score_videos(videos, golds, parser)
            if swap and len(idx) > 1 and plans is not None:
                videos = generate_videos(pipe, captions, plans[1:] + plans[:1], gen, steps, guidance, sampling)
                swapped += score_videos(videos, golds, parser)
                follows += score_videos(videos, golds[1:] + golds[:1], parser)
        rows += level_rows
        result[f"level{level}"] = summarize(level_rows)
    result["all"] = summarize(rows)
    if swapped:
        result["swap"] = summarize(swapped)
        result["swap_follows_dsg"] = summarize(follows)
        result["swap_order_drop_multi"] = result["all"]["order_accuracy_multi"] - result["swap"]["order_accuracy_multi"]
        result["swap_order_strict_drop_multi"] = (
            result["all"]["order_strict_multi"] - result["swap"]["order_strict_multi"]
        )
    return result


def prompted_entities(gold: DynamicSceneGraph) -> set[str]:
    """Entities a caption tells of: the participants of its gold events and any entity it names by id."""
    text = (gold.text or "").lower()
    keep = {e.id for e in gold.entities if e.id.lower() in text}
    for ev in gold.schedule or []:
        keep.add(ev.agent)
        if ev.target is not None:
            keep.add(ev.target)
    return keep


def prompted_gold(gold: DynamicSceneGraph) -> DynamicSceneGraph:
    """The gold DSG restricted to :func:`prompted_entities`: what a video generated from the caption alone
    can be asked to show (the world places unmentioned bystanders that no caption of levels 1-3 names)."""
    keep = prompted_entities(gold)
    frames = tuple(
        SceneGraph(
            tuple(o for o in sg.objects if o in keep),
            tuple(a for a in sg.attributes if a[0] in keep),
            tuple(r for r in sg.relations if r.subject in keep and (r.object is None or r.object in keep)),
        )
        for sg in gold.frames
    )
    schedule = gold.schedule
    if schedule is not None:
        schedule = EventSchedule(
            tuple(ev for ev in schedule.events if ev.agent in keep),
            time_unit=schedule.time_unit,
            entities=tuple(e for e in schedule.entities if e.id in keep),
        )
    return gold.replace(frames=frames, entities=tuple(e for e in gold.entities if e.id in keep), schedule=schedule)


def tune_sampling(
    pipe: Any,
    guidance: Sequence[float] = (1.0, 1.5, 2.0, 3.0),
    noise_scales: Sequence[float | None] = (None,),
    *,
    num: int = 24,
    levels: Sequence[int] = (1, 2, 3),
    steps: int = 20,
    seed: int = 0,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Pick the sampling settings on *validation* prompts (never the test split): the classifier-free
    guidance weight and, for pipelines that take one, the initial-noise scale (``None``: leave it out)
    with the best mean of clean share, action faithfulness and event order (>= 2 events). Returns the
    best ``{"guidance", "noise_scale"}`` and every candidate's scores; the caller stores the choice as the
    pipeline's defaults."""
    table: list[dict[str, float]] = []
    for g in guidance:
        for ns in noise_scales:
            extra = {} if ns is None else {"noise_scale": ns}
            m = evaluate_world_prompts(
                pipe, num=num, levels=levels, split="val", guidance=g, steps=steps, seed=seed, sampling=extra
            )
            row = {"guidance": float(g), "noise_scale": float("nan") if ns is None else float(ns), **m["all"]}
            row["score"] = _mean([row["clean"], row["faithfulness"], row["order_accuracy_multi"]])
            table.append(row)
    best = max(table, key=lambda r: r["score"])
    return {"guidance": best["guidance"], "noise_scale": best["noise_scale"]}, table
