"""Per-video scores of a pipeline on world prompts of any difficulty (Fig. 5's axes, Fig. 7's reference row).

:func:`vdm.training.world_eval.evaluate_world_prompts` (``dysen-vdm evaluate``) scores the preset levels 1-6 and
returns means; the action-complex analyses need other difficulties (a fixed number of events at a chosen
concurrency, one caption detail at a time) and per-video rows to group by what each prompt actually has (its
realised concurrency, its length in words). :func:`score_prompts` gives both with the very scoring of that
evaluation, for any pipeline (slot or Latte/VAE): videos drawn by
:func:`vdm.training.world_source.generate_videos`, conditioned on the pipeline's own planner (``pipe.plan``) or
the gold DSGs; the pipeline's stored sampling defaults unless told otherwise; gold restricted to the prompted
entities (:func:`vdm.training.world_eval.prompted_gold`); per-video rows from the same function (clean video,
TriRec per frame and over the video's triplet set, faithfulness, precision, ``dsg.event_order``, strict order,
shape accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

# ``score_videos`` is the per-video scoring of ``dysen-vdm evaluate``: imported, not copied, so that the two agree
from vdm.training.world_eval import VIDEO_SCORE_KEYS, prompted_gold, score_videos
from vdm.training.world_source import generate_videos
from vdm.world import Difficulty, WorldConfig, WorldDataset, WorldParser

__all__ = ["CONCURRENCY", "DETAILS", "SCORE_KEYS", "Prompt", "axis_difficulties", "score_prompts", "world_prompts"]

#: Per-video scores of every row (``order_strict`` is ``nan`` for fewer than two gold events).
SCORE_KEYS: tuple[str, ...] = (*VIDEO_SCORE_KEYS, "order_strict", "clean")
#: Fig. 5 (a): the most events allowed at once in a three-event prompt; (b): the caption details.
CONCURRENCY: tuple[int, ...] = (1, 2, 3)
DETAILS: tuple[str, ...] = ("short", "medium", "long")


def axis_difficulties() -> dict[str, Difficulty]:
    """The prompt sets of Fig. 5's axes (a) ``concurrency-<c>`` and (b) ``detail-<d>``, by name: three events,
    at most ``c`` active at once (2-4 entities); three sequential events told in ``d`` detail (2-3 entities)."""
    out = {f"concurrency-{c}": Difficulty((3, 3), c, (2, 4)) for c in CONCURRENCY}
    out.update({f"detail-{d}": Difficulty((3, 3), 1, (2, 3), detail=d) for d in DETAILS})
    return out


@dataclass(frozen=True)
class Prompt:
    """A test prompt of the world: caption, gold DSG, the real render, and what the prompt has."""

    caption: str
    gold: Any = field(repr=False)
    video: torch.Tensor = field(repr=False)  # (F, 3, H, W) uint8
    attrs: dict[str, Any] = field(default_factory=dict)


def world_prompts(
    difficulty: Difficulty,
    num: int,
    *,
    num_frames: int = 16,
    resolution: int = 32,
    seed: int = 0,
    tag: dict[str, Any] | None = None,
) -> list[Prompt]:
    """``num`` prompts of the world's test split (:class:`vdm.world.WorldDataset`, disjoint from training) at
    ``difficulty``, each tagged with its number of events, realised concurrency (most events active at once)
    and caption length in words. At a preset level (``Difficulty.level(k)``) these are the prompts
    ``dysen-vdm evaluate`` draws for level ``k``, in the same order."""
    config = WorldConfig(num_frames=num_frames, height=resolution, width=resolution)
    data = WorldDataset("test", num, config=config, difficulty=[difficulty], seed=seed)
    out = []
    for item in data.__getitems__(list(range(num))):
        attrs = {
            "num_events": len(item["schedule"]),
            "concurrency": item["schedule"].concurrency(),
            "words": len(item["caption"].split()),
            "index": item["index"],
            **(tag or {}),
        }
        out.append(Prompt(item["caption"], item["dsg"], item["video"], attrs))
    return out


def score_prompts(
    pipe: Any,
    prompts: Sequence[Prompt],
    *,
    steps: int = 20,
    guidance: float | None = None,
    seed: int = 0,
    batch_size: int = 16,
    dsg_source: str = "planner",
    sampling: dict[str, Any] | None = None,
    prompted: bool = True,
) -> list[dict[str, Any]]:
    """Generate a video per prompt with ``pipe`` (``None``: score the real renders, the parser's ceiling) and score
    it as ``dysen-vdm evaluate`` does; one row per prompt with :data:`SCORE_KEYS`, ``events``, ``caption`` and
    the prompt's ``attrs``.

    ``guidance=None`` and no ``noise_scale`` in ``sampling`` sample with the pipeline's stored defaults
    (``default_guidance``, ``default_noise_scale``); ``dsg_source="planner"`` conditions a DSG model on its own
    planner's DSGs, ``"gold"`` on the gold DSGs; ``prompted`` scores against :func:`prompted_gold` (the gold
    without the bystanders the caption never mentions), ``False`` against the world's full gold. One generator
    seeded ``seed`` draws the batches in order, so the prompts of ``evaluate_world_prompts`` (without
    ``swap``) in its order and batch size give its videos and scores exactly."""
    if dsg_source not in ("planner", "gold"):
        raise ValueError(f"dsg_source must be 'planner' or 'gold', got {dsg_source!r}")
    parser: WorldParser | None = None
    gen = torch.Generator().manual_seed(seed)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        captions = [p.caption for p in chunk]
        golds = [prompted_gold(p.gold) if prompted else p.gold for p in chunk]
        if pipe is None:
            videos = torch.stack([p.video for p in chunk]).float().div(255.0)
        else:
            plans = None
            if pipe.denoiser.uses_dsg:
                plans = golds if dsg_source == "gold" else pipe.plan(captions)
            videos = generate_videos(pipe, captions, plans, gen, steps, guidance, sampling).cpu()
        if parser is None:
            frames, height, width = videos.shape[1], videos.shape[-2], videos.shape[-1]
            parser = WorldParser(WorldConfig(num_frames=frames, height=height, width=width))
        for row, p in zip(score_videos(videos, golds, parser), chunk):
            scores = {k: float(row[k]) for k in SCORE_KEYS}
            rows.append({**scores, "events": row["events"], "caption": p.caption, **p.attrs})
    return rows
