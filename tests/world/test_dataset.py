import pytest
import torch
from torch.utils.data import DataLoader

from vdm.world import SPLITS, WorldConfig, WorldConfigError, WorldDataset, collate_world

CFG = WorldConfig(height=32, width=32)


def test_splits_are_disjoint_and_reproducible():
    train, val, test = (WorldDataset(s, 6, config=CFG, difficulty=[1, 2, 3]) for s in ("train", "val", "test"))
    assert len(WorldDataset("val", config=CFG)) == SPLITS["val"]
    seeds = {ds.seed_of(i) for ds in (train, val, test) for i in range(len(ds))}
    assert len(seeds) == 18
    videos = [ds[i]["video"] for ds in (train, val, test) for i in range(len(ds))]
    assert all(not torch.equal(a, b) for k, a in enumerate(videos) for b in videos[k + 1 :])
    again = WorldDataset("train", 6, config=CFG, difficulty=[1, 2, 3])
    assert torch.equal(again[4]["video"], train[4]["video"]) and again[4]["caption"] == train[4]["caption"]
    assert not torch.equal(WorldDataset("train", 6, config=CFG, seed=1)[0]["video"], train[0]["video"])


def test_items_and_batched_access_agree():
    ds = WorldDataset("train", 8, config=CFG, difficulty=4)
    item = ds[3]
    assert item["video"].shape == (16, 3, 32, 32) and item["video"].dtype == torch.uint8
    assert item["dsg"].num_frames == 16 and item["dsg"].time_unit == "frame"
    assert item["dsg"].schedule == item["schedule"] and item["dsg"].text == item["caption"]
    batch = ds.__getitems__([3, 5])
    assert torch.equal(batch[0]["video"], item["video"]) and batch[0]["dsg"] == item["dsg"]
    assert ds[-1]["index"] == 7
    with pytest.raises(IndexError):
        ds[8]


def test_dataloader_batches():
    ds = WorldDataset("val", 10, config=CFG, difficulty=[1, 6])
    loader = DataLoader(ds, batch_size=4, collate_fn=collate_world)
    batches = list(loader)
    assert [b["video"].shape[0] for b in batches] == [4, 4, 2]
    first = batches[0]
    assert first["video"].shape == (4, 16, 3, 32, 32)
    assert len(first["caption"]) == len(first["dsg"]) == 4 and first["index"].tolist() == [0, 1, 2, 3]


def test_bad_arguments():
    with pytest.raises(WorldConfigError):
        WorldDataset("train", -1)
    with pytest.raises(WorldConfigError):
        WorldDataset("train", 3, difficulty=9)
