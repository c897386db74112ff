"""Tiny stand-in networks and files for the metric tests, built here (nothing is downloaded)."""

from __future__ import annotations

import json

import pytest
import torch

from vdm.metrics import InceptionI3d, WeightsNotFoundError, build_clip_tokenizer_files


@pytest.fixture(scope="session")
def tiny_i3d() -> InceptionI3d:
    """A randomly initialised InceptionI3d at 1/32 width with random BatchNorm statistics, in eval mode."""
    torch.manual_seed(0)
    network = InceptionI3d(num_classes=12, width_divisor=32)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return network.eval()


def _char_level_clip_tokenizer_files(out_dir) -> None:
    """Byte-level vocabulary without merges: a working CLIP tokenizer for machines without open-clip-torch."""
    from vdm.metrics.clip_tokenizer import _bytes_to_unicode

    symbols = list(_bytes_to_unicode().values())
    tokens = [*symbols, *(s + "</w>" for s in symbols), "<|startoftext|>", "<|endoftext|>"]
    (out_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (out_dir / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")


@pytest.fixture(scope="session")
def clip_tokenizer_dir(tmp_path_factory):
    """A folder CLIPTokenizer.from_pretrained can read: the real CLIP vocabulary when open-clip-torch is installed."""
    out = tmp_path_factory.mktemp("clip_tokenizer")
    try:
        build_clip_tokenizer_files(out)
    except WeightsNotFoundError:
        _char_level_clip_tokenizer_files(out)
    return out


@pytest.fixture(scope="session")
def clip_tokenizer(clip_tokenizer_dir):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(clip_tokenizer_dir))


@pytest.fixture(scope="session")
def tiny_clip(clip_tokenizer):
    """A randomly initialised 2-layer CLIPModel over 32×32 images with the tokenizer's vocabulary."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    text = dict(
        vocab_size=len(clip_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=clip_tokenizer.bos_token_id,
        eos_token_id=clip_tokenizer.eos_token_id,
        pad_token_id=clip_tokenizer.pad_token_id,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
    )
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
