"""Real video data for ``dysen-vdm train --data SOURCE``: the loaders of :mod:`vdm.data` behind one spec string,
encoded once into a latent cache (:mod:`vdm.training.latent_cache`) that training streams from.

``SOURCE`` is one of (paths may not contain commas):

* ``world``: the procedural world (the default; not handled here);
* ``folder:DIR[,CAPTIONS]``: videos in ``DIR`` listed with their captions in ``DIR/captions.jsonl`` or
  ``DIR/captions.csv`` (:class:`~vdm.data.VideoFolder`);
* ``webvid:CSV[,ROOT]``: a WebVid CSV and the downloaded videos (``ROOT`` default: the CSV's folder);
* ``msrvtt:ANNOTATIONS[,ROOT]``: MSR-VTT JSON/CSV annotations and ``ROOT/<video_id>.mp4`` (default: their folder);
* ``ucf101:ROOT[,SPLITDIR]``: UCF-101 class folders and the official split lists (default ``ROOT/ucfTrainTestlist``),
  train split of fold 1, class names as captions.

Stage II (``stage="dsg"``) needs the DSGs of the training captions precomputed by ``dysen-vdm annotate``
(``dsgs``: looked up by video key, else by caption); stage III (``stage="planner"``) plans in the loop (with
``planned_dsgs`` as a head start), its DSG vocabulary taken from the precomputed DSGs or from planning a
sample of the captions up front.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from .config import TrainConfig, TrainConfigError
from .latent_cache import LatentSource, build_latent_cache, cache_manifest, vae_fingerprint

__all__ = ["VOCAB_SAMPLE", "open_dataset", "parse_data_spec", "prepare_real_source"]

log = logging.getLogger("vdm.training")

#: stage III without precomputed DSGs: captions planned up front to fix the DSG vocabulary
VOCAB_SAMPLE = 256


def parse_data_spec(spec: str) -> tuple[str, list[str]]:
    """``"webvid:a.csv,videos"`` -> ``("webvid", ["a.csv", "videos"])`` (checked for arity)."""
    kind, sep, rest = spec.partition(":")
    arity = {"folder": (1, 2), "webvid": (1, 2), "msrvtt": (1, 2), "ucf101": (1, 2)}
    if kind == "world" and not sep:
        return "world", []
    if kind not in arity or not rest:
        raise TrainConfigError(
            f"invalid data {spec!r}: use world, folder:DIR[,CAPTIONS], webvid:CSV[,ROOT], msrvtt:ANNOTATIONS[,ROOT] "
            "or ucf101:ROOT[,SPLITDIR]"
        )
    parts = [p.strip() for p in rest.split(",")]
    lo, hi = arity[kind]
    if not lo <= len(parts) <= hi or not all(parts):
        raise TrainConfigError(f"invalid data {spec!r}: {kind} takes {lo} to {hi} comma-separated paths")
    return kind, parts


def open_dataset(cfg: TrainConfig) -> Any:
    """The :class:`~vdm.data.VideoTextDataset` of ``cfg.data`` with the config's clip sampling."""
    from ..data import MSRVTT, UCF101, ClipSampling, VideoFolder, WebVid

    kind, parts = parse_data_spec(cfg.data)
    sampling = ClipSampling(cfg.num_frames, cfg.clip_seconds, cfg.resolution)
    opts = {"sampling": sampling, "seed": cfg.seed}
    if kind == "folder":
        return VideoFolder(parts[0], parts[1] if len(parts) > 1 else None, **opts)
    if kind == "webvid":
        return WebVid(parts[0], parts[1] if len(parts) > 1 else Path(parts[0]).parent, **opts)
    if kind == "msrvtt":
        return MSRVTT(parts[0], parts[1] if len(parts) > 1 else Path(parts[0]).parent, **opts)
    if kind == "ucf101":
        return UCF101(parts[0], parts[1] if len(parts) > 1 else Path(parts[0]) / "ucfTrainTestlist", **opts)
    raise TrainConfigError(f"data {cfg.data!r} is not a real-video source")


def default_cache_dir(manifest: dict[str, Any]) -> Path:
    tag = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:12]
    return Path("outputs") / f"latent-cache-{tag}"


def prepare_real_source(cfg: TrainConfig) -> LatentSource:
    """Build (or resume, or reuse) the latent cache of ``cfg.data`` on every process of the launch, each
    encoding its share of the shards, then return the training source of the cache."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import set_seed

    from .latent_cache import check_manifest, shard_done
    from .trainer import load_vae

    if cfg.stage == "vae":
        raise TrainConfigError("stage 'vae' trains on pixels; --data real sources feed stages dsg, planner and text")
    state = PartialState(cpu=not torch.cuda.is_available())
    dataset = open_dataset(cfg)
    fingerprint = vae_fingerprint(cfg.vae_path, cfg.vae_preset, cfg.seed)
    manifest = cache_manifest(cfg.data, cfg.num_frames, cfg.resolution, cfg.clip_seconds, fingerprint, len(dataset))
    root = Path(cfg.latent_cache) if cfg.latent_cache else default_cache_dir(manifest)
    shards = -(-len(dataset) // cfg.latent_shard_size)
    if not all(shard_done(root, k) for k in range(shards)) or not (root / "cache.json").exists():
        set_seed(cfg.seed)  # an untrained VAE (no vae_path) must be the same on every process
        vae = load_vae(cfg).to(state.device).eval().requires_grad_(False)
        if state.is_main_process:  # write (or check) the manifest before anyone writes a shard
            check_manifest(root, manifest, cfg.latent_shard_size, cfg.latent_dtype)
        state.wait_for_everyone()
        built = build_latent_cache(
            dataset,
            vae,
            root,
            manifest,
            shard_size=cfg.latent_shard_size,
            latent_dtype=cfg.latent_dtype,
            rank=state.process_index,
            world=state.num_processes,
        )
        print(f"latent cache {root}: process {state.process_index} encoded {len(built)} shard(s)", flush=True)
        del vae
    state.wait_for_everyone()
    dsg_file = cfg.dsgs if cfg.stage == "dsg" else (cfg.planned_dsgs or cfg.dsgs) if cfg.stage == "planner" else None
    if cfg.stage == "dsg" and not cfg.dsgs:
        raise TrainConfigError(
            "stage 'dsg' on real data needs the DSGs of its captions: run `dysen-vdm annotate` and pass --dsgs FILE "
            "(or train stage 'planner', which plans them in the loop, or 'text')"
        )
    source = LatentSource.load(root, dsgs=dsg_file, seed=cfg.seed)
    if cfg.stage == "dsg":
        cov = source.coverage()
        state.print(f"{len(source)} cached clips, {cov:.0%} with a precomputed DSG (the rest train DSG-less)")
        if cov == 0:
            raise TrainConfigError(f"none of the {len(source)} clips has a DSG in {cfg.dsgs} (by video id or caption)")
    elif cfg.stage == "planner" and dsg_file is None:
        from ..pipelines import load_planner

        planner = load_planner(cfg.planner_spec, **cfg.planner_kwargs)
        sample = list(dict.fromkeys(source.captions))[:VOCAB_SAMPLE]
        source.extra_vocab = [planner.plan(c) for c in sample]
    return source
