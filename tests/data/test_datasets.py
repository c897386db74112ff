"""Each loader on tiny self-made files: layout, captions, splits, DSG lookup, and the error policy."""

import json
import warnings

import pytest
import torch
from torch.utils.data import DataLoader

from dsg import EventSchedule, Provenance, schedule_to_dsg, write_jsonl
from vdm.data import (
    MSRVTT,
    UCF101,
    ActivityNetCaptions,
    AnnotationError,
    ClipSampling,
    DataError,
    DSGIndex,
    VideoDecodeError,
    WebVid,
    class_to_caption,
    collate_samples,
    read_activitynet_captions,
)

SMALL = ClipSampling(num_frames=4, size=16)


def _webvid(tmp_path, make_video, broken=()):
    rows = ["videoid,contentUrl,duration,page_dir,name"]
    for k in range(3):
        rows.append(f"{100 + k},http://x/{k}.mp4,PT00H00M03S,00{k},a dog runs number {k}")
        if k not in broken:
            make_video(tmp_path / "videos" / f"00{k}" / f"{100 + k}.mp4")
    (tmp_path / "webvid.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "webvid.csv"


def test_webvid(tmp_path, make_video):
    csv_path = _webvid(tmp_path, make_video)
    ds = WebVid(csv_path, tmp_path / "videos", sampling=SMALL)
    assert len(ds) == 3
    item = ds[1]
    assert item["video"].shape == (4, 3, 16, 16) and item["caption"] == "a dog runs number 1" and item["key"] == "101"
    assert item["path"].endswith("001/101.mp4") and item["dsg"] is None
    batch = next(iter(DataLoader(ds, batch_size=3, collate_fn=collate_samples)))
    assert batch["video"].shape == (3, 4, 3, 16, 16) and batch["caption"][2] == "a dog runs number 2"


def test_webvid_bad_csv_names_file_and_line(tmp_path):
    (tmp_path / "bad.csv").write_text("videoid,name\n1,\n")
    with pytest.raises(AnnotationError, match=r"bad.csv \(header\)"):
        WebVid(tmp_path / "bad.csv", tmp_path, path_template="{page_dir}/{videoid}.mp4")
    with pytest.raises(AnnotationError, match=r"line 2"):
        WebVid(tmp_path / "bad.csv", tmp_path, path_template="{videoid}.mp4")


def test_missing_and_corrupt_videos_raise_or_are_skipped(tmp_path, make_video, corrupt_file):
    csv_path = _webvid(tmp_path, make_video, broken=(1,))
    strict = WebVid(csv_path, tmp_path / "videos", sampling=SMALL)
    with pytest.raises(VideoDecodeError, match="101.mp4"):
        strict[1]
    (tmp_path / "videos" / "001").mkdir(parents=True)
    (tmp_path / "videos" / "001" / "101.mp4").write_bytes(corrupt_file.read_bytes())
    with pytest.raises(VideoDecodeError, match="101.mp4"):
        strict[1]
    lenient = WebVid(csv_path, tmp_path / "videos", sampling=SMALL, on_error="skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keys = [b["key"] for batch in DataLoader(lenient, batch_size=1, collate_fn=collate_samples) for b in [batch]]
    assert [k[0] for k in keys] == ["100", "102", "102"]  # the epoch keeps its length and the good samples
    assert [f[1].endswith("101.mp4") for f in lenient.failures] == [True]
    assert any("101.mp4" in str(w.message) for w in caught)


def test_all_videos_broken_is_a_clear_error(tmp_path, make_video):
    csv_path = _webvid(tmp_path, make_video, broken=(0, 1, 2))
    with pytest.raises(DataError, match="none of the 3 videos"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        WebVid(csv_path, tmp_path / "videos", sampling=SMALL, on_error="skip")[0]


def test_msrvtt_json_and_csv(tmp_path, make_video):
    for k in range(3):
        make_video(tmp_path / "videos" / f"video{k}.mp4")
    data = {
        "videos": [{"video_id": f"video{k}", "split": "train" if k < 2 else "test"} for k in range(3)],
        "sentences": [
            {"video_id": f"video{k}", "caption": f"caption {k}.{j}", "sen_id": 2 * k + j}
            for k in range(3)
            for j in range(2)
        ],
    }
    (tmp_path / "msrvtt.json").write_text(json.dumps(data))
    train = MSRVTT(tmp_path / "msrvtt.json", tmp_path / "videos", split="train", sampling=SMALL)
    assert (
        len(train) == 2
        and train[1]["captions"] == ["caption 1.0", "caption 1.1"]
        and train[1]["caption"] == "caption 1.0"
    )
    per_caption = MSRVTT(tmp_path / "msrvtt.json", tmp_path / "videos", per_caption=True, sampling=SMALL)
    assert len(per_caption) == 6 and per_caption[5]["caption"] == "caption 2.1" and per_caption[5]["caption_index"] == 1
    (tmp_path / "test.csv").write_text("key,vid_key,video_id,sentence\nret0,msr2,video2,a man sings\n")
    csv_ds = MSRVTT(tmp_path / "test.csv", tmp_path / "videos", sampling=SMALL)
    assert len(csv_ds) == 1 and csv_ds[0]["caption"] == "a man sings" and csv_ds[0]["video"].shape == (4, 3, 16, 16)
    with pytest.raises(AnnotationError, match="no video in split"):
        MSRVTT(tmp_path / "msrvtt.json", tmp_path / "videos", split="validate")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(AnnotationError, match="broken.json"):
        MSRVTT(tmp_path / "broken.json", tmp_path)


def test_ucf101_class_folders_and_official_splits(tmp_path, make_video):
    root, lists = tmp_path / "UCF-101", tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 YoYo\n")
    names = {
        "train": ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "YoYo/v_YoYo_g09_c02.avi 2"],
        "test": ["YoYo/v_YoYo_g01_c01.avi"],
    }
    for split, lines in names.items():
        (lists / f"{split}list01.txt").write_text("\n".join(lines) + "\n")
        for line in lines:
            make_video(root / line.split()[0])
    train = UCF101(root, lists, split="train", sampling=SMALL)
    assert len(train) == 2
    first = train[0]
    assert first["caption"] == "apply eye makeup" and first["label"] == 0 and first["class_name"] == "ApplyEyeMakeup"
    test = UCF101(root, lists, split="test", caption_template="a person plays {}", sampling=SMALL)
    assert test[0]["caption"] == "a person plays yo yo" and test[0]["label"] == 1
    assert (
        class_to_caption("PlayingDaf") == "playing daf" and class_to_caption("HandstandPushups") == "handstand pushups"
    )
    (lists / "trainlist02.txt").write_text("Juggling/v_Juggling_g01_c01.avi 3\n")
    with pytest.raises(AnnotationError, match=r"trainlist02.txt \(line 1\)"):
        UCF101(root, lists, split="train", fold=2)


def _activitynet(tmp_path, make_video):
    data = {
        "v_abc": {
            "duration": 3.0,
            "timestamps": [[1.5, 3.0], [0.0, 1.5]],
            "sentences": ["Then he jumps.", " A man runs."],
        },
        "v_def": {"duration": 2.0, "timestamps": [[0.0, 2.0]], "sentences": ["A woman sings."]},
    }
    (tmp_path / "anet.json").write_text(json.dumps(data))
    make_video(tmp_path / "videos" / "v_abc.mp4", seconds=3.0)
    make_video(tmp_path / "videos" / "def.mp4", seconds=2.0)  # without the v_ prefix
    return tmp_path / "anet.json"


def test_activitynet_sentences_paragraphs_and_gold_order(tmp_path, make_video, frame_indices):
    path = _activitynet(tmp_path, make_video)
    pars = read_activitynet_captions(path)
    assert pars[0].physical_order == (1, 0) and pars[0].text == "Then he jumps. A man runs."
    sentences = ActivityNetCaptions(
        path, tmp_path / "videos", sampling=ClipSampling(num_frames=4, clip_seconds=1.0, size=None)
    )
    assert len(sentences) == 3
    item = sentences[0]
    assert item["caption"] == "Then he jumps." and item["sentence_index"] == 0 and item["physical_order"] == [1, 0]
    assert min(frame_indices(item["video"])) >= 15  # the clip lies inside the sentence's span [1.5 s, 3 s)
    assert sentences[2]["path"].endswith("def.mp4")
    paragraphs = ActivityNetCaptions(
        path, tmp_path / "videos", mode="paragraph", sampling=ClipSampling(num_frames=3, size=None)
    )
    assert len(paragraphs) == 2
    assert frame_indices(paragraphs[0]["video"]) == [0, 10, 20]  # spread over the whole annotated span
    (tmp_path / "bad.json").write_text(json.dumps({"v_x": {"duration": 1, "timestamps": [[2, 1]], "sentences": ["x"]}}))
    with pytest.raises(AnnotationError, match=r"v_x timestamps\[0\]"):
        read_activitynet_captions(tmp_path / "bad.json")


def test_shared_activitynet_file_reads_if_present():
    from pathlib import Path

    path = Path("/work/shared/data/activitynet_captions_val_2.json")
    if not path.is_file():
        pytest.skip("shared ActivityNet Captions file not present")
    pars = read_activitynet_captions(path)
    assert len(pars) > 1000 and all(len(p.sentences) == len(p.spans) for p in pars)


def test_precomputed_dsgs_are_attached(tmp_path, make_video):
    csv_path = _webvid(tmp_path, make_video)
    sched = EventSchedule.from_tuples([("dog", "run", None, (0, 2))])
    by_key = schedule_to_dsg(sched, text="ignored", provenance=Provenance("test", meta=(("video_id", "100"),)))
    by_text = schedule_to_dsg(sched, text="a dog runs number 2")
    write_jsonl([by_key, by_text], tmp_path / "dsgs.jsonl")
    ds = WebVid(csv_path, tmp_path / "videos", sampling=SMALL, dsgs=tmp_path / "dsgs.jsonl")
    assert ds[0]["dsg"] == by_key and ds[2]["dsg"] == by_text and ds[1]["dsg"] is None
    assert len(DSGIndex(tmp_path / "dsgs.jsonl")) == 2
    with (tmp_path / "dsgs.jsonl").open("a") as fh:
        fh.write('{"schema": "dsg/1", "frames": [')
    with pytest.raises(AnnotationError, match="dsgs.jsonl"):
        DSGIndex(tmp_path / "dsgs.jsonl")
    assert len(DSGIndex(tmp_path / "dsgs.jsonl", skip_invalid=True)) == 2


def test_collate_keeps_non_tensors_as_lists():
    batch = collate_samples(
        [
            {"video": torch.zeros(2, 3, 4, 4), "label": 1, "dsg": None},
            {"video": torch.ones(2, 3, 4, 4), "label": 2, "dsg": None},
        ]
    )
    assert (
        batch["video"].shape == (2, 2, 3, 4, 4) and batch["label"].tolist() == [1, 2] and batch["dsg"] == [None, None]
    )
    with pytest.raises(ValueError):
        collate_samples([{"a": 1}, {"b": 2}])
