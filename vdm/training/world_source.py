"""The procedural world (:mod:`vdm.world`) as a training source and as an evaluation bench.

Training batches are deterministic in the step index (resume replays them exactly); every video comes
with its caption and its gold frame-aligned DSG. Difficulty levels 1..``max_events`` (1-3 sequential
events with canonical captions) are mixed uniformly. Train, validation and test scenes come from
:class:`~vdm.world.WorldDataset`'s disjoint seed streams.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsg import DSGVocab, DynamicSceneGraph

from ..world.config import WorldConfig
from ..world.dataset import WorldDataset
from ..world.parser import WorldParser, score_video
from .config import TrainConfig
from .data import VideoBatch

__all__ = ["CachedSource", "WorldSource", "build_cache", "evaluate_on_world", "is_clean", "world_eval_hook"]


@dataclass
class WorldSource:
    """Batches of (video in [-1, 1], caption, gold DSG) from :class:`vdm.world.WorldDataset` (its disjoint
    train/val/test seed streams; difficulty levels drawn uniformly per sample)."""

    config: WorldConfig
    levels: tuple[int, ...] = (1, 2, 3)
    split: str = "train"
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: TrainConfig, split: str = "train") -> WorldSource:
        world = WorldConfig(num_frames=cfg.num_frames, height=cfg.resolution, width=cfg.resolution)
        return cls(world, tuple(range(1, min(cfg.max_events, 6) + 1)), split, cfg.seed)

    def dataset(self, size: int) -> WorldDataset:
        return WorldDataset(self.split, size, config=self.config, difficulty=self.levels, seed=self.seed)

    def examples(self, indices: list[int]) -> tuple[torch.Tensor, list[str], list[DynamicSceneGraph]]:
        """uint8 videos ``(B, F, H, W, 3)``, captions and gold DSGs of the samples ``indices``."""
        items = self.dataset(max(indices) + 1).__getitems__(indices)
        videos = torch.stack([it["video"] for it in items]).permute(0, 1, 3, 4, 2).contiguous()
        return videos, [it["caption"] for it in items], [it["dsg"] for it in items]

    def batch(self, index: int, batch_size: int) -> VideoBatch:
        videos, captions, dsgs = self.examples(list(range(index * batch_size, (index + 1) * batch_size)))
        video = videos.permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)
        return VideoBatch(video, captions, dsgs)

    def vocab(self) -> DSGVocab:
        """The world's whole vocabulary (from :mod:`vdm.world.vocabulary`, not from samples): every colour x
        shape label, action and spatial predicate, size attribute; anything else maps to ``<unk>``."""
        from ..world import vocabulary as V

        vocab = DSGVocab()
        for colour in V.COLOURS:
            for shape in V.SHAPES:
                vocab.entities.index(f"{colour} {shape}")
            vocab.predicates.index(V.turn_predicate(colour))
        for shape in V.SHAPES:
            vocab.entities.index(shape)
        for pred in (*V.UNARY_ACTIONS, *V.BINARY_ACTIONS, *V.SPATIAL_PREDICATES):
            vocab.predicates.index(pred)
        for attr in (*V.COLOURS, *V.SIZE_CLASSES):
            vocab.attributes.index(attr)
        vocab.freeze()
        return vocab


def _build_shard(args: tuple[WorldSource, int, int, str]) -> str:
    from safetensors.torch import save_file

    from dsg import write_jsonl

    source, start, stop, path = args
    videos, _, dsgs = source.examples(list(range(start, stop)))
    save_file({"videos": videos.contiguous()}, f"{path}.safetensors")
    write_jsonl(dsgs, f"{path}.jsonl")
    return path


def build_cache(source: WorldSource, directory: str, size: int, *, shard: int = 512, workers: int = 0) -> Path:
    """Render ``size`` scenes of ``source`` once into ``directory`` (safetensors video shards + JSONL DSGs with
    their captions), in parallel over ``workers`` processes. Existing complete shards are kept (resumable)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, start in enumerate(range(0, size, shard)):
        path = out / f"shard-{k:05d}"
        if not (Path(f"{path}.safetensors").exists() and Path(f"{path}.jsonl").exists()):
            jobs.append((source, start, min(size, start + shard), str(path)))
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if jobs and workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_build_shard, jobs))
    else:
        for job in jobs:
            _build_shard(job)
    (out / "cache.json").write_text(
        json.dumps(
            {
                "size": size,
                "shard": shard,
                "levels": list(source.levels),
                "frames": source.config.num_frames,
                "height": source.config.height,
            }
        )
    )
    return out


@dataclass
class CachedSource:
    """Training batches drawn from a cache written by :func:`build_cache` (held in memory, uint8)."""

    videos: torch.Tensor
    captions: list[str]
    dsgs: list[DynamicSceneGraph]
    probe: WorldSource

    @classmethod
    def load(cls, directory: str, probe: WorldSource) -> CachedSource:
        from safetensors.torch import load_file

        from dsg import read_jsonl

        root = Path(directory)
        shards = sorted(root.glob("shard-*.safetensors"))
        if not shards:
            raise FileNotFoundError(f"{root} holds no cache shards (build it with build_cache)")
        videos, dsgs = [], []
        for sh in shards:
            videos.append(load_file(str(sh))["videos"])
            dsgs += list(read_jsonl(sh.with_suffix(".jsonl")))
        return cls(torch.cat(videos), [d.text or "" for d in dsgs], dsgs, probe)

    def __len__(self) -> int:
        return len(self.dsgs)

    def batch(self, index: int, batch_size: int) -> VideoBatch:
        """Batch ``index`` of a fixed random permutation per epoch (deterministic in ``index``)."""
        n = len(self)
        per_epoch = max(1, n // batch_size)
        epoch, k = divmod(index, per_epoch)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
        idx = perm[k * batch_size : (k + 1) * batch_size].tolist()
        video = self.videos[idx].permute(0, 1, 4, 2, 3).float().div(127.5).sub(1.0)
        return VideoBatch(video, [self.captions[i] for i in idx], [self.dsgs[i] for i in idx])

    def vocab(self) -> DSGVocab:
        return self.probe.vocab()


def is_clean(parsed: DynamicSceneGraph, gold: DynamicSceneGraph) -> bool:
    """Every frame shows exactly the prompted entities that should be visible (by label), nothing else."""
    if parsed.num_frames != gold.num_frames:
        return False
    for p, g in zip(parsed.frames, gold.frames):
        if sorted(parsed.entity_table[o].label for o in p.objects) != sorted(
            gold.entity_table[o].label for o in g.objects
        ):
            return False
    return True


def evaluate_on_world(
    pipe: Any,
    *,
    num: int = 32,
    level: int = 3,
    dsg_source: str = "planner",
    steps: int = 20,
    guidance: float = 3.0,
    seed: int = 0,
    batch_size: int = 16,
    resolution: int | None = None,
) -> dict[str, Any]:
    """Generate videos for ``num`` test prompts of world level ``level`` and score them with the world's
    visual parser against the prompts' gold events: TriRec (eq. 7; all triplets and actions only),
    action faithfulness, event-order accuracy, and the share of clean videos."""
    f = pipe.config.num_frames
    res = resolution or pipe.vae.config.sample_size
    source = WorldSource(WorldConfig(num_frames=f, height=res, width=res), (level,), "test")
    parser = WorldParser(source.config)
    rows: list[Any] = []
    clean = 0
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, num, batch_size):
        idx = list(range(start, min(num, start + batch_size)))
        _, captions, golds = source.examples(idx)
        dsgs = golds if dsg_source == "gold" else None
        for video, gold in zip(generate_videos(pipe, captions, dsgs, gen, steps, guidance), golds):
            sc = score_video(video, gold, parser=parser, value_range=(0.0, 1.0))
            rows.append(sc)
            clean += is_clean(sc.parsed, gold)
    keys = ("trirec", "trirec_actions", "faithfulness", "order_accuracy", "kendall_tau")
    metrics: dict[str, Any] = {k: _nanmean([getattr(r, k) for r in rows]) for k in keys}
    metrics["clean"] = clean / max(1, len(rows))
    metrics["videos"] = len(rows)
    return metrics


def generate_videos(
    pipe: Any,
    captions: list[str],
    dsgs: list[Any] | None,
    gen: torch.Generator,
    steps: int,
    guidance: float | None,
    extra: dict[str, Any] | None = None,
) -> torch.Tensor:
    """The pipeline's ``(B, F, 3, H, W)`` videos in ``[0, 1]`` for ``captions`` (and ``dsgs``, ``None``: its
    planner), as every world evaluation draws them; ``extra``: further keyword arguments of the call."""
    return pipe(
        prompt=captions,
        dsg=dsgs,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=gen,
        output_type="pt",
        **(extra or {}),
    ).frames


def _nanmean(xs: list[float]) -> float:
    vals = [x for x in xs if not math.isnan(x)]
    return float(np.mean(vals)) if vals else float("nan")


def world_eval_hook(cfg: TrainConfig, source: WorldSource) -> Callable[[int, Any], dict[str, float]]:
    """An ``eval_hook`` for :func:`~vdm.training.train`: sample ``cfg.eval_prompts`` test prompts with the
    in-training (EMA) weights and score them with the world's parser."""
    from ..pipelines import DysenVDMPipeline
    from .export import sampling_scheduler
    from .trainer import load_vae

    vae = load_vae(cfg)

    def hook(step: int, module: Any) -> dict[str, float]:
        pipe = DysenVDMPipeline(
            module.denoiser,
            vae.to(next(module.parameters()).device),
            sampling_scheduler(cfg),
            module.dsg_encoder,
            planner_spec=cfg.planner_spec,
            planner_kwargs=cfg.planner_kwargs,
            num_frames=cfg.num_frames,
        )
        pipe.set_progress_bar_config(disable=True)
        was_training = module.training
        module.eval()
        try:
            m = evaluate_on_world(
                pipe,
                num=cfg.eval_prompts,
                level=min(3, cfg.max_events),
                dsg_source="gold",
                steps=cfg.eval_steps,
                batch_size=cfg.eval_prompts,
                resolution=cfg.resolution,
            )
        finally:
            module.train(was_training)
        return {k: v for k, v in m.items() if isinstance(v, float)}

    return hook
