"""CLIPSIM with a tiny random CLIPModel and a real CLIP tokenizer built offline; the tokenizer trap."""

from __future__ import annotations

import json

import pytest
import torch

from vdm.metrics import (
    BrokenTokenizerError,
    ClipSimilarity,
    MetricInputError,
    WeightsNotFoundError,
    build_clip_tokenizer_files,
    check_clip_tokenizer,
    find_open_clip_bpe,
)
from vdm.metrics.clip_tokenizer import CLIP_NUM_MERGES, CLIP_VOCAB_SIZE


def _open_clip_bpe():
    try:
        return find_open_clip_bpe()
    except WeightsNotFoundError:
        pytest.skip("open-clip-torch (its bpe_simple_vocab_16e6.txt.gz) is not installed")


def test_built_tokenizer_files_reproduce_openai_clip(tmp_path):
    from transformers import CLIPTokenizer

    _open_clip_bpe()
    out = build_clip_tokenizer_files(tmp_path / "tok")
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    merges = (out / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == CLIP_VOCAB_SIZE == 49408 and len(merges) - 1 == CLIP_NUM_MERGES == 48894
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    tokenizer = check_clip_tokenizer(CLIPTokenizer.from_pretrained(str(out)))
    # Ids of OpenAI CLIP / openai/clip-vit-base-patch32 for this caption.
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.decode(tokenizer("A photo of a CAT")["input_ids"], skip_special_tokens=True) == "a photo of a cat"


def test_builder_reads_the_merge_list_from_a_wheel(tmp_path):
    import zipfile

    bpe = _open_clip_bpe()
    wheel = tmp_path / "open_clip_torch-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(bpe, "open_clip/bpe_simple_vocab_16e6.txt.gz")
    from_wheel = build_clip_tokenizer_files(tmp_path / "a", bpe_path=wheel)
    from_file = build_clip_tokenizer_files(tmp_path / "b", bpe_path=bpe)
    assert (from_wheel / "vocab.json").read_bytes() == (from_file / "vocab.json").read_bytes()


def test_offline_tokenizer_trap_is_detected(clip_tokenizer_dir):
    from transformers import CLIPTokenizer

    with pytest.raises(BrokenTokenizerError, match="only 2 tokens"):
        check_clip_tokenizer(CLIPTokenizer())  # what from_pretrained("<hub id>") returns offline
    broken = CLIPTokenizer(
        vocab_file=str(clip_tokenizer_dir / "vocab.json"), merges_file=str(clip_tokenizer_dir / "merges.txt")
    )
    with pytest.raises(BrokenTokenizerError):
        check_clip_tokenizer(broken)


def test_tokenizer_with_a_useless_vocabulary_is_detected(tmp_path):
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "zzz</w>": 2, "qqq</w>": 3}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(BrokenTokenizerError, match="special/unknown ids only"):
        check_clip_tokenizer(CLIPTokenizer.from_pretrained(str(tmp_path)))


def _reference_clipsim(model, tokenizer, pixel_values, caption) -> float:
    """Independent path: CLIPModel.forward's logits_per_image / exp(logit_scale) is the cosine."""
    inputs = tokenizer([caption], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], pixel_values=pixel_values)
        return float((out.logits_per_image[:, 0] / model.logit_scale.exp()).mean())


def test_clipsim_matches_clipmodel_forward(tiny_clip, clip_tokenizer):
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    metric = ClipSimilarity(tiny_clip, clip_tokenizer, processor, layout="BTHWC", batch_size=3)
    g = torch.Generator().manual_seed(0)
    videos = torch.randint(0, 256, (2, 4, 40, 48, 3), generator=g, dtype=torch.uint8)
    captions = ["a dog runs on the grass", "a man slices a tomato"]
    scores = metric.update(videos, captions)
    for i in range(2):
        pixels = processor(images=list(videos[i].permute(0, 3, 1, 2)), return_tensors="pt")["pixel_values"]
        assert float(scores[i]) == pytest.approx(
            _reference_clipsim(tiny_clip, clip_tokenizer, pixels, captions[i]), abs=1e-5
        )
    assert metric.compute() == pytest.approx(float(scores.mean()))
    assert metric.captions == captions


def test_torch_preprocessing_close_to_processor_and_scale(tiny_clip, clip_tokenizer):
    from transformers import CLIPImageProcessor

    videos = torch.rand(2, 3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    captions = ["a red ball", "two cats"]
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    with_processor = ClipSimilarity(tiny_clip, clip_tokenizer, processor).update(videos, captions)
    builtin = ClipSimilarity(tiny_clip, clip_tokenizer, scale=100.0)
    raw = builtin.update(videos, captions)
    torch.testing.assert_close(raw, with_processor, atol=5e-3, rtol=0)  # uint8 quantisation in the processor
    torch.testing.assert_close(builtin.scores, raw * 100)


def test_from_pretrained_folder_round_trip(tiny_clip, clip_tokenizer, tmp_path):
    from transformers import CLIPImageProcessor

    folder = tmp_path / "clip"
    tiny_clip.save_pretrained(folder)
    clip_tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    videos = torch.rand(1, 2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    loaded = ClipSimilarity.from_pretrained(folder)
    assert loaded.image_processor is not None
    in_memory = ClipSimilarity(tiny_clip, clip_tokenizer, loaded.image_processor)
    torch.testing.assert_close(loaded.update(videos, ["a bird"]), in_memory.update(videos, ["a bird"]))


def test_errors(tiny_clip, clip_tokenizer):
    with pytest.raises(WeightsNotFoundError, match="hub ids are not fetched"):
        ClipSimilarity.from_pretrained("openai/clip-vit-base-patch32")
    metric = ClipSimilarity(tiny_clip, clip_tokenizer)
    with pytest.raises(MetricInputError, match="2 videos but 1 captions"):
        metric.update(torch.rand(2, 2, 3, 32, 32), ["one caption"])
    with pytest.raises(MetricInputError, match="sequence of strings"):
        metric.update(torch.rand(1, 2, 3, 32, 32), "a caption")
