"""The encode-once latent cache: resumable, safe to build in parallel, deterministic batches; the folder loader."""

import json

import pytest
import torch
from real_fixtures import write_video_folder

from vdm.data import ClipSampling, VideoFolder
from vdm.data.errors import AnnotationError
from vdm.models.vae import build_vae, encode_video
from vdm.training.latent_cache import (
    LatentCacheError,
    LatentSource,
    build_latent_cache,
    cache_manifest,
    check_manifest,
)
from vdm.training.real_source import parse_data_spec

SAMPLING = ClipSampling(num_frames=4, clip_seconds=0.5, size=32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = write_video_folder(tmp_path_factory.mktemp("videos"), n=4)
    (root / "broken.mp4").write_bytes(b"not a video")
    with (root / "captions.jsonl").open("a") as fh:
        fh.write(json.dumps({"video": "broken.mp4", "caption": "a broken clip"}) + "\n")
    return root


def test_folder_loader_and_specs(folder, tmp_path):
    ds = VideoFolder(folder, sampling=SAMPLING)
    assert len(ds) == 5 and ds.records[4].key == "broken"
    item = ds[1]
    assert item["video"].shape == (4, 3, 32, 32) and item["caption"] == "a blue square moves left"
    (tmp_path / "captions.csv").write_text("file,text\nclip0.mp4,a red circle jumps\n")
    assert VideoFolder(folder, tmp_path / "captions.csv").records[0].captions == ("a red circle jumps",)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnnotationError, match="no captions file"):
        VideoFolder(tmp_path / "empty")
    assert parse_data_spec("webvid:a.csv,videos") == ("webvid", ["a.csv", "videos"])
    with pytest.raises(ValueError, match="invalid data"):
        parse_data_spec("youtube:x")


def test_cache_is_resumable_parallel_safe_and_deterministic(folder, tmp_path):
    torch.manual_seed(0)
    vae = build_vae("vae-tiny", block_out_channels=(16, 16, 16)).eval()
    ds = VideoFolder(folder, sampling=SAMPLING)
    manifest = cache_manifest(f"folder:{folder}", 4, 32, 0.5, "test", len(ds))
    root = tmp_path / "cache"
    check_manifest(root, manifest, 2, "float32")
    # two builders (ranks 1 and 0 of 2) split the 3 shards; a third, redundant builder races on all of them
    assert build_latent_cache(ds, vae, root, manifest, shard_size=2, latent_dtype="float32", rank=1, world=2) == [1]
    assert build_latent_cache(ds, vae, root, manifest, shard_size=2, latent_dtype="float32", rank=0, world=2) == [0, 2]
    assert build_latent_cache(ds, vae, root, manifest, shard_size=2, latent_dtype="float32") == []  # all done
    meta = json.loads((root / "shard-00002.json").read_text())
    assert meta["keys"] == [] and meta["failed"][0]["path"].endswith("broken.mp4")
    # a crash that lost shard 1's metadata: only that shard is redone
    (root / "shard-00001.json").unlink()
    assert build_latent_cache(ds, vae, root, manifest, shard_size=2, latent_dtype="float32") == [1]
    src = LatentSource.load(root, seed=3)
    assert len(src) == 4 and src.keys == ["clip0", "clip1", "clip2", "clip3"]
    with torch.no_grad():
        want = encode_video(vae, ds[2]["video"][None].float().div(127.5).sub(1.0))[0]
    assert torch.allclose(src.latents([2])[0], want, atol=1e-5)
    a, b = src.batch(5, 3), LatentSource.load(root, seed=3).batch(5, 3)
    assert a.video is None and a.latents.shape == (3, 4, 4, 8, 8)
    assert torch.equal(a.latents, b.latents) and a.captions == b.captions
    epoch = [src.indices(i, 2) for i in range(2)]
    assert sorted(epoch[0] + epoch[1]) == [0, 1, 2, 3]  # one epoch visits every clip once
    with pytest.raises(LatentCacheError, match="other data or another VAE"):
        check_manifest(root, {**manifest, "vae": "another"}, 2, "float32")
    (root / "shard-00000.json").unlink()
    with pytest.raises(LatentCacheError, match="not built yet"):
        LatentSource.load(root)
