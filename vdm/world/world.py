"""The procedural world in one object: seed in, video + gold DSG + caption out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from dsg import DynamicSceneGraph, EventSchedule

from .captions import Caption, caption_scene
from .config import Difficulty, WorldConfig
from .errors import WorldConfigError
from .gold import gold_dsg
from .render import render_batch
from .sampler import sample_scene
from .scene import Scene

__all__ = ["Seed", "World", "WorldSample"]

Seed = int | tuple[int, ...]
"""A seed: an integer or a tuple of integers (entropy of a :class:`numpy.random.SeedSequence`)."""


@dataclass(frozen=True)
class WorldSample:
    """One sample of the world.

    Attributes:
        scene: the sampled scene (entities, events, states).
        video: ``(F, 3, H, W)`` uint8 tensor.
        dsg: the gold frame-aligned DSG (time unit ``"frame"``, spatial relations included), its text the
            caption and its schedule the gold events.
        caption: the caption and the order in which it mentions the events.
    """

    scene: Scene
    video: torch.Tensor = field(repr=False)
    dsg: DynamicSceneGraph = field(repr=False)
    caption: Caption

    @property
    def text(self) -> str:
        return self.caption.text

    @property
    def schedule(self) -> EventSchedule:
        return self.scene.schedule


def _difficulties(difficulty: Difficulty | int | Sequence[Difficulty | int] | None) -> tuple[Difficulty, ...]:
    if difficulty is None:
        return (Difficulty.level(1),)
    items = difficulty if isinstance(difficulty, Sequence) and not isinstance(difficulty, str) else [difficulty]
    out = []
    for d in items:
        if isinstance(d, Difficulty):
            out.append(d)
        elif isinstance(d, int) and not isinstance(d, bool):
            out.append(Difficulty.level(d))
        else:
            raise WorldConfigError("difficulty", d, "must be a Difficulty, a level 1-6, or a sequence of them")
    if not out:
        raise WorldConfigError("difficulty", difficulty, "needs at least one difficulty")
    return tuple(out)


class World:
    """Samples of the procedural world.

    Args:
        config: how the world looks (:class:`~vdm.world.config.WorldConfig`).
        difficulty: a :class:`~vdm.world.config.Difficulty`, a preset level 1-6, or a sequence of them (each
            sample draws one uniformly, from its seed).

    The same seed always gives the same sample (scene, video, DSG and caption).
    """

    def __init__(
        self,
        config: WorldConfig | None = None,
        difficulty: Difficulty | int | Sequence[Difficulty | int] | None = None,
    ) -> None:
        self.config = config or WorldConfig()
        self.difficulties = _difficulties(difficulty)

    def scene(self, seed: Seed) -> Scene:
        """Only the scene of ``seed`` (no rendering)."""
        pick, scene_ss, _ = np.random.SeedSequence(seed).spawn(3)
        diff = self.difficulties[int(np.random.default_rng(pick).integers(len(self.difficulties)))]
        scene = sample_scene(np.random.default_rng(scene_ss), self.config, diff)
        return replace(scene, seed=seed)

    def sample(self, seed: Seed) -> WorldSample:
        return self.sample_batch([seed])[0]

    def sample_batch(self, seeds: Sequence[Seed]) -> list[WorldSample]:
        """Samples of several seeds, rendered together (faster than one by one)."""
        scenes = [self.scene(s) for s in seeds]
        out = render_batch(scenes)
        samples = []
        for k, (seed, scene) in enumerate(zip(seeds, scenes)):
            masks = out.masks[k, :, : len(scene.entities)]
            gold = gold_dsg(scene, masks)
            caption_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
            caption = caption_scene(scene, caption_rng, first_frame=gold.frames[0])
            video = out.videos[k].permute(0, 3, 1, 2).contiguous()
            samples.append(WorldSample(scene, video, gold.replace(text=caption.text), caption))
        return samples
