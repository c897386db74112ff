"""A :mod:`torch.utils.data` dataset of the procedural world, with disjoint train/val/test splits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from ..data.collate import collate_samples
from .config import Difficulty, WorldConfig
from .errors import WorldConfigError
from .world import World, WorldSample

__all__ = ["SPLITS", "WorldDataset", "collate_world"]

#: Default number of samples of each split.
SPLITS: dict[str, int] = {"train": 10_000, "val": 512, "test": 512}
_SPLIT_ID = {"train": 0, "val": 1, "test": 2}


class WorldDataset(Dataset):
    """Samples of the world, generated on the fly and identical on every access.

    Sample ``i`` of split ``s`` comes from the seed ``(seed, split id, i)``, so the splits never share a
    scene (their seed streams are disjoint), a dataset is reproducible across processes and workers, and
    nothing is stored. Batched access (``__getitems__``, used by :class:`torch.utils.data.DataLoader`)
    renders a whole batch at once.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: number of samples (default :data:`SPLITS` ``[split]``).
        config: the world's look; difficulty: a :class:`~vdm.world.config.Difficulty`, a level 1-6, or a
            sequence of them (one is drawn per sample).
        seed: base seed of the whole dataset.

    Each item is a dict: ``video`` ``(F, 3, H, W)`` uint8, ``caption`` (str), ``dsg`` (gold frame-aligned
    :class:`~dsg.DynamicSceneGraph`), ``schedule`` (gold :class:`~dsg.EventSchedule`, unit ``"frame"``),
    ``mention_order`` (tuple), ``level`` (difficulty name), ``index`` (int). Use :func:`collate_world`
    (or :func:`vdm.data.collate_samples`) as ``collate_fn``.
    """

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        *,
        config: WorldConfig | None = None,
        difficulty: Difficulty | int | Sequence[Difficulty | int] | None = None,
        seed: int = 0,
    ) -> None:
        if split not in _SPLIT_ID:
            raise WorldConfigError("split", split, f"must be one of {list(_SPLIT_ID)}")
        size = SPLITS[split] if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise WorldConfigError("size", size, "must be a non-negative integer")
        self.split, self.size, self.seed = split, size, int(seed)
        self.world = World(config, difficulty)

    def __len__(self) -> int:
        return self.size

    def seed_of(self, index: int) -> tuple[int, int, int]:
        return (self.seed, _SPLIT_ID[self.split], int(index))

    def _check(self, index: int) -> int:
        if not -self.size <= index < self.size:
            raise IndexError(f"index {index} out of range for a {self.split} split of {self.size} samples")
        return index % self.size

    def sample(self, index: int) -> WorldSample:
        """The full :class:`~vdm.world.world.WorldSample` of ``index`` (with its scene)."""
        return self.world.sample(self.seed_of(self._check(index)))

    @staticmethod
    def _item(sample: WorldSample, index: int) -> dict[str, Any]:
        return {
            "video": sample.video,
            "caption": sample.caption.text,
            "dsg": sample.dsg,
            "schedule": sample.schedule,
            "mention_order": sample.caption.mention_order,
            "level": sample.scene.difficulty.name,
            "index": index,
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._check(index)
        return self._item(self.world.sample(self.seed_of(index)), index)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        idx = [self._check(i) for i in indices]
        samples = self.world.sample_batch([self.seed_of(i) for i in idx])
        return [self._item(s, i) for s, i in zip(samples, idx)]


def collate_world(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``video`` into ``(B, F, 3, H, W)``; keep captions, DSGs and schedules as lists."""
    out = collate_samples(batch)
    if not isinstance(out.get("video"), torch.Tensor):
        raise TypeError("world items must carry a 'video' tensor")
    return out
