"""Batching of video-text samples whose fields are not all tensors (captions, DSGs, event lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["collate_samples"]


def collate_samples(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate a list of sample dicts: tensors of equal shape are stacked, numbers become tensors, and
    everything else (strings, :class:`~dsg.DynamicSceneGraph`, ``None``, lists) is kept as a list.

    Every sample must have the same keys.
    """
    if not batch:
        raise ValueError("cannot collate an empty batch")
    keys = list(batch[0])
    for k, item in enumerate(batch):
        if list(item) != keys:
            raise ValueError(f"sample {k} has keys {sorted(item)}, sample 0 has {sorted(keys)}")
    out: dict[str, Any] = {}
    for key in keys:
        values = [item[key] for item in batch]
        first = values[0]
        if isinstance(first, torch.Tensor) and all(
            isinstance(v, torch.Tensor) and v.shape == first.shape for v in values
        ):
            out[key] = torch.stack(values)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out
