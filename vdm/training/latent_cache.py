"""Encode-once latent cache for real video data: the VAE runs once per clip, training streams latents.

Layout of a cache folder::

    cache.json                    what the cache holds (data spec, clip sampling, VAE fingerprint, shard size)
    shard-00000.safetensors       {"latents": (n, C, F, h, w)} in ``latent_dtype`` (float16 by default)
    shard-00000.json              {"keys", "captions", "failed"}: the n clips of the shard, in order

Shard ``k`` holds dataset records ``[k * shard_size, (k + 1) * shard_size)``, minus those that fail to decode
(listed under ``failed``). A shard is complete when its ``.json`` exists; both files are written to unique
temporary names and renamed into place (tensors first), so

* **resumable**: an interrupted build keeps every finished shard and redoes only the others;
* **safe in parallel**: builders split the shards (``rank``/``world``: shard ``k`` goes to rank
  ``k % world``), and even two builders that race on one shard write identical bytes and rename atomically.

:class:`LatentSource` serves training batches from a cache (deterministic in the step index, a fresh
permutation per epoch), reading the rows it needs from memory-mapped shards, with the DSGs of each clip
from a :class:`~vdm.data.DSGIndex` (by video key, else caption).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dsg import DSGVocab, DynamicSceneGraph

from .data import VideoBatch

__all__ = [
    "LatentCacheError",
    "LatentSource",
    "build_latent_cache",
    "cache_manifest",
    "check_manifest",
    "shard_done",
    "vae_fingerprint",
]

log = logging.getLogger("vdm.training")


class LatentCacheError(ValueError):
    """A latent cache folder does not match what was asked for, or is incomplete."""


def vae_fingerprint(vae_path: str | os.PathLike[str] | None, preset: str, seed: int) -> str:
    """A short hash naming the VAE: its saved files (config + weights), or the random preset and seed."""
    h = hashlib.sha256()
    if vae_path is None:
        h.update(f"random:{preset}:{seed}".encode())
    else:
        root = Path(vae_path)
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
        if not files:
            raise LatentCacheError(f"{root} holds no VAE files (config.json + weights)")
        for p in files:
            h.update(p.name.encode())
            with p.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def cache_manifest(
    data: str, num_frames: int, resolution: int, clip_seconds: float | None, fingerprint: str, count: int
) -> dict[str, Any]:
    return {
        "data": data,
        "num_frames": num_frames,
        "resolution": resolution,
        "clip_seconds": clip_seconds,
        "vae": fingerprint,
        "records": count,
    }


def check_manifest(root: Path, manifest: dict[str, Any], shard_size: int, dtype: str) -> None:
    """Write ``root/cache.json``, or check that the one there describes the same cache."""
    root = Path(root)
    want = {**manifest, "shard_size": shard_size, "latent_dtype": dtype}
    path = root / "cache.json"
    if path.exists():
        have = json.loads(path.read_text(encoding="utf-8"))
        diff = sorted(k for k in want if have.get(k) != want[k])
        if diff:
            have_d = {k: have.get(k) for k in diff}
            want_d = {k: want[k] for k in diff}
            raise LatentCacheError(
                f"{root} is a latent cache of other data or another VAE ({have_d}, asked for {want_d}); "
                "use another --latent-cache"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".cache.json.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(want, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def shard_done(root: Path, k: int) -> bool:
    """Shard ``k`` of ``root`` is complete (its tensors and its metadata are in place)."""
    return (root / f"shard-{k:05d}.json").exists() and (root / f"shard-{k:05d}.safetensors").exists()


@torch.no_grad()
def _encode_shard(dataset: Any, vae: Any, root: Path, k: int, start: int, stop: int, dtype: str, batch: int) -> None:
    from safetensors.torch import save_file

    from ..data.errors import VideoDecodeError
    from ..models.vae import encode_video

    device = next(vae.parameters()).device
    vdtype = next(vae.parameters()).dtype
    keys, captions, failed, parts = [], [], [], []
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            video = torch.stack(pending).to(device=device, dtype=vdtype).div(127.5).sub(1.0)
            parts.append(encode_video(vae, video).to("cpu", getattr(torch, dtype)))
            pending.clear()

    for i in range(start, stop):
        try:
            item = dataset.load(i)
        except VideoDecodeError as exc:
            failed.append({"index": i, "path": exc.path, "reason": exc.reason})
            log.warning("latent cache: skipping record %d: %s", i, exc)
            continue
        keys.append(str(item["key"]))
        captions.append(str(item["caption"]))
        pending.append(item["video"])
        if len(pending) >= batch:
            flush()
    flush()
    tag = uuid.uuid4().hex
    base = root / f"shard-{k:05d}"
    if parts:
        tmp = root / f".{base.name}.{tag}.safetensors"
        save_file({"latents": torch.cat(parts).contiguous()}, str(tmp))
        os.replace(tmp, f"{base}.safetensors")
    else:  # every record failed: an empty shard still marks the range as done
        tmp = root / f".{base.name}.{tag}.safetensors"
        save_file({"latents": torch.zeros(0)}, str(tmp))
        os.replace(tmp, f"{base}.safetensors")
    meta = root / f".{base.name}.{tag}.json"
    meta.write_text(json.dumps({"keys": keys, "captions": captions, "failed": failed}), encoding="utf-8")
    os.replace(meta, f"{base}.json")


def build_latent_cache(
    dataset: Any,
    vae: Any,
    directory: str | os.PathLike[str],
    manifest: dict[str, Any],
    *,
    shard_size: int = 256,
    latent_dtype: str = "float16",
    rank: int = 0,
    world: int = 1,
    batch: int = 16,
) -> list[int]:
    """Encode the shards of ``dataset`` that rank ``rank`` of ``world`` owns and that are not done yet.

    ``dataset``: a :class:`~vdm.data.VideoTextDataset` (its ``load(i)`` decodes record ``i``). Returns the
    shard numbers encoded by this call. Call it on every rank, then wait for all (the CLI uses
    ``accelerate``'s ``wait_for_everyone``).
    """
    if latent_dtype not in ("float16", "bfloat16", "float32"):
        raise LatentCacheError(f"latent_dtype must be float16, bfloat16 or float32, got {latent_dtype!r}")
    root = Path(directory)
    if rank == 0:
        check_manifest(root, manifest, shard_size, latent_dtype)
    else:
        root.mkdir(parents=True, exist_ok=True)
    n = len(dataset)
    done = []
    for k, start in enumerate(range(0, n, shard_size)):
        if k % world != rank or shard_done(root, k):
            continue
        _encode_shard(dataset, vae, root, k, start, min(n, start + shard_size), latent_dtype, batch)
        done.append(k)
    return done


@dataclass
class LatentSource:
    """Training batches of cached latents (:class:`~vdm.training.data.VideoBatch` with ``latents`` set and
    ``video`` ``None``), their captions and DSGs.

    ``batch(i, n)`` covers samples ``i*n .. i*n+n-1`` of an endless stream: epoch ``e`` is a permutation of
    all cached clips seeded by ``(seed, e)``, so a resumed run replays exactly the batches it would have seen.
    """

    root: Path
    shards: list[Path]
    keys: list[str]
    captions: list[str]
    rows: list[tuple[int, int]]  # (shard, row) of every cached clip
    dsg_index: Any = None
    seed: int = 0
    extra_vocab: list[DynamicSceneGraph] = field(default_factory=list)
    max_open: int = 64
    provides_latents: bool = True

    def __post_init__(self) -> None:
        self._open: OrderedDict[int, Any] = OrderedDict()
        self._perm: dict[int, torch.Tensor] = {}

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, dsgs: Any = None, seed: int = 0) -> LatentSource:
        """The complete shards of a cache; ``dsgs``: a :class:`~vdm.data.DSGIndex` or a JSONL path (or ``None``)."""
        root = Path(directory)
        if not (root / "cache.json").exists():
            raise LatentCacheError(f"{root} is not a latent cache (no cache.json); build it first")
        manifest = json.loads((root / "cache.json").read_text(encoding="utf-8"))
        expected = -(-int(manifest["records"]) // int(manifest["shard_size"]))
        shards, keys, captions, rows = [], [], [], []
        missing = []
        for k in range(expected):
            if not shard_done(root, k):
                missing.append(k)
                continue
            meta = json.loads((root / f"shard-{k:05d}.json").read_text(encoding="utf-8"))
            s = len(shards)
            shards.append(root / f"shard-{k:05d}.safetensors")
            keys += meta["keys"]
            captions += meta["captions"]
            rows += [(s, r) for r in range(len(meta["keys"]))]
        if missing:
            raise LatentCacheError(f"{root}: shards {missing[:10]} of {expected} are not built yet (build the cache)")
        if not rows:
            raise LatentCacheError(f"{root} holds no clip (every video failed to decode? see shard-*.json 'failed')")
        if dsgs is not None and not hasattr(dsgs, "get"):
            from ..data import DSGIndex

            dsgs = DSGIndex(dsgs)
        return cls(root, shards, keys, captions, rows, dsgs, seed)

    def __len__(self) -> int:
        return len(self.rows)

    def dsg(self, i: int) -> DynamicSceneGraph | None:
        return None if self.dsg_index is None else self.dsg_index.get(self.keys[i], self.captions[i])

    def coverage(self) -> float:
        """Fraction of cached clips that have a precomputed DSG."""
        return sum(self.dsg(i) is not None for i in range(len(self))) / len(self)

    def _handle(self, s: int) -> Any:
        from safetensors import safe_open

        if s in self._open:
            self._open.move_to_end(s)
            return self._open[s]
        h = safe_open(str(self.shards[s]), framework="pt")
        self._open[s] = h
        if len(self._open) > self.max_open:
            self._open.popitem(last=False)
        return h

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perm:
            if len(self._perm) > 4:
                self._perm.clear()
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm[epoch] = torch.randperm(len(self), generator=g)
        return self._perm[epoch]

    def indices(self, index: int, batch_size: int) -> list[int]:
        n = len(self)
        out = []
        for j in range(index * batch_size, (index + 1) * batch_size):
            out.append(int(self._permutation(j // n)[j % n]))
        return out

    def latents(self, indices: Iterable[int]) -> torch.Tensor:
        parts = []
        for i in indices:
            s, r = self.rows[i]
            parts.append(self._handle(s).get_slice("latents")[r : r + 1])
        return torch.cat(parts).float()

    def batch(self, index: int, batch_size: int) -> VideoBatch:
        idx = self.indices(index, batch_size)
        return VideoBatch(None, [self.captions[i] for i in idx], [self.dsg(i) for i in idx], latents=self.latents(idx))

    def vocab(self) -> DSGVocab:
        """Every label of the precomputed DSGs (and of ``extra_vocab``); anything else maps to ``<unk>``."""
        graphs = list(self.extra_vocab)
        if self.dsg_index is not None:
            graphs += self.dsg_index.dsgs()
        return DSGVocab.build(graphs)
