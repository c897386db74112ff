"""Training data of the slot model: world videos as slot latents, with captions, planned DSGs and text states.

Stage II/III of the paper train the denoiser on latents of an autoencoder frozen after stage I. Here the
latents of every training video are computed once (:func:`build_slot_data`) and kept in memory: a slot
latent is ``F x E x (6 + k)`` numbers, so 20,000 videos take about 50 MB, and a training step never
touches pixels. Each video comes with its caption, the DSG of that caption planned by a
:class:`dsg.Planner` (stage III: the planner in the loop, precomputed — the paper's Dysen) or the gold DSG
(stage II), and the caption's text-encoder states.

Slot ``e`` of a video is entity ``e`` of its DSG (``dsg.entities`` order), found in the rendered scene by
id (the world names entities ``"<colour> <shape>"``, and so does the offline planner with
``colour_in_label=True``). Entities the caption does not tell of (the world's bystanders) get no slot, so
they are not in the training target either: a text-to-video model cannot know them. A video whose planned
DSG names an entity the scene does not have is left out (``skipped`` counts them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

import dsg
from dsg import DynamicSceneGraph

from ..training.world_eval import prompted_gold
from ..world.config import WorldConfig
from ..world.dataset import WorldDataset
from ..world.render import render_batch
from .autoencoder import SlotAutoencoder

__all__ = ["SlotData", "build_slot_data", "clip_step_starts", "empty_slot", "slot_world", "world_golds"]


def empty_slot(ae: SlotAutoencoder, z: torch.Tensor) -> torch.Tensor:
    """The raw latent of a slot with no entity: centre of the frame, mean scale and code, colour 0."""
    flat = z.reshape(-1, z.shape[-1])
    out = flat.mean(0)
    out[:2] = 0.0
    out[3:6] = 0.0
    return out


@dataclass
class SlotData:
    """Slot latents ``z (N, F, E, Z)`` (raw), entity counts ``(N,)``, captions, DSGs, text states."""

    z: torch.Tensor
    num_entities: torch.Tensor
    captions: list[str]
    dsgs: list[DynamicSceneGraph]
    text: torch.Tensor
    text_mask: torch.Tensor
    skipped: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    def with_dsgs(self, dsgs: Sequence[DynamicSceneGraph]) -> SlotData:
        """The same videos with other DSGs (e.g. planned without imagination): slots are reordered to each
        new DSG's entity order; a video whose new DSG names other entities is left out (``skipped``)."""
        if len(dsgs) != len(self):
            raise ValueError(f"{len(dsgs)} DSGs for {len(self)} videos")
        keep, perms = [], []
        for k, (old, new) in enumerate(zip(self.dsgs, dsgs)):
            ids, order = [e.id for e in old.entities], [e.id for e in new.entities]
            if sorted(ids) == sorted(order):
                keep.append(k)
                n = len(ids)
                perms.append([ids.index(i) for i in order] + list(range(n, self.z.shape[2])))
        idx = torch.tensor(keep, dtype=torch.long)
        perm = torch.tensor(perms, dtype=torch.long).view(len(keep), 1, -1, 1)
        z = torch.gather(self.z[idx], 2, perm.expand(-1, self.z.shape[1], -1, self.z.shape[3]))
        return SlotData(
            z,
            self.num_entities[idx],
            [self.captions[k] for k in keep],
            [dsgs[k] for k in keep],
            self.text[idx],
            self.text_mask[idx],
            self.skipped + len(self) - len(keep),
            dict(self.meta),
        )

    def with_clip_times(self, golds: Sequence[DynamicSceneGraph | None], num_frames: int | None = None) -> SlotData:
        """The same videos with each planned DSG aligned to its clip's event times
        (:func:`clip_step_starts`, :func:`dsg.align` with ``step_starts``) instead of spread evenly over
        the ``num_frames`` frames (default: the latents' frame count). Where the plan and the clip tell
        different events the even alignment is kept; ``meta["clip_timed"]`` counts the retimed DSGs."""
        if len(golds) != len(self):
            raise ValueError(f"{len(golds)} gold DSGs for {len(self)} videos")
        frames = int(self.z.shape[1]) if num_frames is None else num_frames
        out, timed = [], 0
        for planned, gold in zip(self.dsgs, golds):
            starts = None if gold is None else clip_step_starts(planned, gold)
            timed += starts is not None
            out.append(dsg.align(planned, frames, step_starts=starts))
        meta = {**self.meta, "clip_timed": timed}
        return SlotData(self.z, self.num_entities, self.captions, out, self.text, self.text_mask, self.skipped, meta)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Tensors to safetensors, DSGs to JSON Lines (no pickle)."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        save_file(
            {"z": self.z, "num_entities": self.num_entities, "text": self.text, "text_mask": self.text_mask},
            str(root / "slots.safetensors"),
        )
        rows = [d.replace(text=c) for d, c in zip(self.dsgs, self.captions)]
        dsg.write_jsonl(rows, root / "dsgs.jsonl")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> SlotData:
        root = Path(directory)
        t = load_file(str(root / "slots.safetensors"))
        dsgs = list(dsg.read_jsonl(root / "dsgs.jsonl"))
        captions = [d.text or "" for d in dsgs]
        return cls(t["z"], t["num_entities"], captions, dsgs, t["text"], t["text_mask"])


def clip_step_starts(planned: DynamicSceneGraph, gold: DynamicSceneGraph) -> list[int] | None:
    """The frame of its clip at which each step of a planned DSG begins, read from the clip's gold events.

    Step ``k`` of the plan must begin the same events (agent, predicate, target; as a multiset) as the
    ``k``-th group of gold events that start together; then step ``k`` begins at that group's start
    frame (gold schedules are in frames). ``None`` when the plan and the clip do not tell the same events
    in the same order (a planning error, or steps that begin no event): keep the even alignment then.
    """
    ps, gs = planned.schedule, gold.schedule
    if ps is None or gs is None or planned.num_frames == 0 or gs.time_unit != "frame":
        return None
    steps: list[list[tuple[Any, ...]]] = [[] for _ in range(planned.num_frames)]
    for ev in ps.events:
        if not 0 <= ev.start < planned.num_frames:
            return None
        steps[ev.start].append((ev.agent, ev.predicate, ev.target))
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for ev in gs.events:
        groups.setdefault(ev.start, []).append((ev.agent, ev.predicate, ev.target))
    starts = sorted(groups)
    if len(starts) != len(steps) or any(sorted(st) != sorted(groups[f]) for st, f in zip(steps, starts)):
        return None
    return starts


def world_golds(captions: Sequence[str], dataset: WorldDataset) -> list[DynamicSceneGraph | None]:
    """The prompted gold DSG of each caption's video in ``dataset`` (the world data a :class:`SlotData`
    was built from, in order, some videos left out): matched in order by caption; ``None`` where no
    video is left to match."""
    out: list[DynamicSceneGraph | None] = []
    i = 0
    for caption in captions:
        gold = None
        while i < len(dataset):
            sample = dataset.world.sample(dataset.seed_of(i))
            i += 1
            if sample.text == caption:
                gold = prompted_gold(sample.dsg)
                break
        out.append(gold)
    return out


def slot_world(
    size: int,
    *,
    levels: Sequence[int] = (1, 2, 3),
    config: WorldConfig | None = None,
    split: str = "train",
    seed: int = 0,
    sample_size: int = 32,
) -> WorldDataset:
    """The world videos :func:`build_slot_data` renders (16 frames of ``sample_size``² unless ``config``)."""
    config = config or WorldConfig(num_frames=16, height=sample_size, width=sample_size)
    return WorldDataset(split, size, config=config, difficulty=list(levels), seed=seed)


def build_slot_data(
    ae: SlotAutoencoder,
    size: int,
    *,
    levels: Sequence[int] = (1, 2, 3),
    config: WorldConfig | None = None,
    split: str = "train",
    seed: int = 0,
    planner: dsg.Planner | None = None,
    text_encoder: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]] | None = None,
    max_slots: int = 4,
    chunk: int = 256,
    clip_times: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> SlotData:
    """Render ``size`` world videos of ``split`` and turn them into :class:`SlotData`.

    ``planner``: DSGs planned from the captions (stage III); ``None``: the gold DSGs (stage II).
    ``clip_times``: each planned DSG aligned to its clip's event times (:meth:`SlotData.with_clip_times`).
    ``text_encoder``: ``fn(captions) -> (states, mask)``; ``None`` keeps empty text tensors.
    """
    ds = slot_world(size, levels=levels, config=config, split=split, seed=seed, sample_size=ae.config.sample_size)
    zs, counts, captions, graphs, golds, skipped = [], [], [], [], [], 0
    for start in range(0, size, chunk):
        idx = list(range(start, min(size, start + chunk)))
        samples = ds.world.sample_batch([ds.seed_of(i) for i in idx])
        rendered = render_batch([s.scene for s in samples])
        video = rendered.videos.permute(0, 1, 4, 2, 3).float().div(255.0)
        with torch.no_grad():
            z = ae.encode(video, rendered.masks)
        for k, s in enumerate(samples):
            gold = prompted_gold(s.dsg)
            graph = planner.plan(s.text) if planner is not None else gold
            ids = [e.id for e in s.scene.entities]
            order = [e.id for e in graph.entities]
            if not set(order) <= set(ids) or not order or len(order) > max_slots:
                skipped += 1
                continue
            slots = torch.zeros(z.shape[1], max_slots, z.shape[-1])
            slots[:, : len(order)] = z[k, :, [ids.index(i) for i in order]]
            zs.append(slots)
            counts.append(len(order))
            captions.append(s.text)
            graphs.append(graph)
            golds.append(gold)
        if progress is not None:
            progress(min(size, start + chunk), size)
    z_all = torch.stack(zs)
    n = torch.tensor(counts)
    pad = torch.arange(max_slots)[None, :] >= n[:, None]  # (N, E)
    tracks = z_all.transpose(1, 2)  # (N, E, F, Z), a view: writing it fills z_all
    tracks[pad] = empty_slot(ae, tracks[~pad])
    if text_encoder is not None:
        states, masks = [], []
        for start in range(0, len(captions), 256):
            s_, m_ = text_encoder(captions[start : start + 256])
            states.append(s_.to(torch.float16))
            masks.append(m_)
        text, text_mask = torch.cat(states), torch.cat(masks)
    else:
        text = torch.zeros(len(captions), 1, 1, dtype=torch.float16)
        text_mask = torch.zeros(len(captions), 1, dtype=torch.bool)
    data = SlotData(z_all, n, captions, graphs, text, text_mask, skipped)
    return data.with_clip_times(golds) if clip_times and planner is not None else data
