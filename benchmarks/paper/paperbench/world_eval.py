"""Per-video scores of a pipeline on world prompts of any difficulty (Fig. 5's axes, Fig. 7's reference row).

:func:`vdm.training.world_source.evaluate_on_world` scores the preset levels 1-6 and returns means; the
action-complex analyses need other difficulties (a fixed number of events at a chosen concurrency, one caption
detail at a time) and per-video rows to group by what each prompt actually has (its realised concurrency, its
length in words). This module gives both, with the same scoring: the world's visual parser against the prompt's
gold DSG (:func:`vdm.world.score_video`) and the same "clean video" test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from vdm.training.world_source import is_clean  # the exact criterion evaluate_on_world uses
from vdm.world import Difficulty, WorldConfig, WorldDataset, WorldParser, score_video

__all__ = ["SCORE_KEYS", "Prompt", "score_prompts", "world_prompts"]

SCORE_KEYS: tuple[str, ...] = ("trirec", "trirec_actions", "faithfulness", "order_accuracy", "kendall_tau", "clean")


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
    and caption length in words."""
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
    guidance: float = 3.0,
    seed: int = 0,
    batch_size: int = 16,
    dsg_source: str = "planner",
) -> list[dict[str, Any]]:
    """Generate a video per prompt with ``pipe`` (``None``: score the real renders, the parser's ceiling) and score
    it; one row per prompt with :data:`SCORE_KEYS` and the prompt's ``attrs``."""
    if dsg_source not in ("planner", "gold"):
        raise ValueError(f"dsg_source must be 'planner' or 'gold', got {dsg_source!r}")
    parser: WorldParser | None = None
    gen = torch.Generator().manual_seed(seed)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        if pipe is None:
            videos, value_range = [p.video for p in chunk], None
        else:
            videos = pipe(
                prompt=[p.caption for p in chunk],
                dsg=[p.gold for p in chunk] if dsg_source == "gold" else None,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=gen,
                output_type="pt",
            ).frames
            value_range = (0.0, 1.0)
        for p, video in zip(chunk, videos):
            if parser is None:
                parser = WorldParser(
                    WorldConfig(num_frames=video.shape[0], height=video.shape[-1], width=video.shape[-1])
                )
            sc = score_video(video.cpu(), p.gold, parser=parser, value_range=value_range)
            row = {k: float(getattr(sc, k)) for k in SCORE_KEYS if k != "clean"}
            row["clean"] = float(is_clean(sc.parsed, p.gold))
            rows.append({**row, **p.attrs})
    return rows
