"""Label embeddings (learned, frozen from a transformers text encoder), frame encodings, light import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from _rgtrm_testing import rich_dsg

import dsg
from rgtrm import (
    FrameEncoding,
    FrozenLabelEmbedding,
    LearnedLabelEmbedding,
    RGTrmConfigError,
    RGTrmEncoder,
    RGTrmInputError,
    TextLabelEncoder,
    label_embedding_from_config,
    load_encoder,
)

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "man", "dog", "cup", "ball", "tall", "red", "hold", "run"]
WORDS += ["look", "at", "near", "kick", "zebra"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A randomly initialised 1-layer BERT with a word-level vocabulary, saved with save_pretrained."""
    from transformers import BertConfig, BertModel, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-bert")
    BertTokenizer(vocab={w: i for i, w in enumerate(WORDS)}).save_pretrained(path)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=12,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=32,
    )
    BertModel(cfg).save_pretrained(path)
    return str(path)


def test_text_encoder_caches_per_label(tiny_bert: str) -> None:
    enc = TextLabelEncoder(tiny_bert)
    calls = []
    vecs = enc.encode(["man", "dog", "man"])
    model = enc._model
    orig = model.forward
    model.forward = lambda *a, **k: calls.append(k["input_ids"].shape[0]) or orig(*a, **k)
    assert vecs.shape == (3, 12) and enc.dim == 12
    torch.testing.assert_close(vecs[0], vecs[2])
    assert not torch.allclose(vecs[0], vecs[1])
    again = enc.encode(["dog", "man"])
    assert calls == []  # both cached
    torch.testing.assert_close(again, vecs[[1, 0]])
    enc.encode(["look at", "dog", "kick"])
    assert calls == [2]  # only the new labels, in one batch
    assert enc.cached("look at") and not enc.cached("zebra")
    assert enc.encode([]).shape == (0, 12)


def test_mean_and_cls_pooling_match_manual(tiny_bert: str) -> None:
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(tiny_bert), AutoModel.from_pretrained(tiny_bert).eval()
    with torch.no_grad():
        hidden = model(**tok(["look at"], return_tensors="pt")).last_hidden_state[0]
    torch.testing.assert_close(TextLabelEncoder(tiny_bert).encode(["look at"])[0], hidden.mean(0))
    torch.testing.assert_close(TextLabelEncoder(tiny_bert, pooling="cls").encode(["look at"])[0], hidden[0])


def test_frozen_embedding_from_text_encoder_in_an_encoder(tiny_bert: str, tmp_path) -> None:
    d = rich_dsg()
    vocab = dsg.DSGVocab.build([d])
    labels = FrozenLabelEmbedding.from_text_encoder(tiny_bert, vocab)
    assert labels.dim == 12 and not labels.trainable
    assert labels.sizes == {"entity": 5, "attribute": 3, "predicate": 6}
    assert not labels.table_entity[0].any()  # <unk>
    direct = TextLabelEncoder(tiny_bert).encode([vocab.predicates.label(1)])[0]
    torch.testing.assert_close(labels.embed("predicate", torch.tensor([1]))[0], direct)

    enc = RGTrmEncoder(labels, hidden=8, num_layers=1, heads=2, dropout=0.0).eval()
    assert [n for n, p in enc.named_parameters() if "labels" in n] == []  # frozen
    assert isinstance(enc.node_proj, torch.nn.Linear)  # trainable projection 12 -> 8
    batch = dsg.collate([d], vocab)
    out = enc(batch)
    assert out.pooled.shape == (1, 4, 8)

    enc.save_pretrained(tmp_path)
    code = (
        "import sys, rgtrm, dsg, torch; "
        f"enc = rgtrm.load_encoder({str(tmp_path)!r}); "
        "assert 'transformers.models' not in ' '.join(sys.modules), 'text model loaded'; "
        "print(type(enc.labels).__name__, enc.labels.dim)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["FrozenLabelEmbedding", "12"]
    loaded = load_encoder(tmp_path).eval()
    torch.testing.assert_close(loaded(batch).pooled, out.pooled, atol=0, rtol=0)


def test_text_encoder_errors(tmp_path) -> None:
    with pytest.raises(RGTrmInputError, match="path"):
        TextLabelEncoder(tmp_path / "nope").encode(["man"])
    with pytest.raises(RGTrmConfigError, match="pooling"):
        TextLabelEncoder(tmp_path, pooling="max")  # type: ignore[arg-type]


def test_learned_embedding_and_config_round_trip() -> None:
    vocab = dsg.DSGVocab.build([rich_dsg()])
    emb = LearnedLabelEmbedding.from_vocab(vocab, 6)
    assert emb.embed("attribute", torch.tensor([0, 2])).shape == (2, 6)
    again = label_embedding_from_config(emb.config())
    assert isinstance(again, LearnedLabelEmbedding) and again.sizes == emb.sizes and again.dim == 6
    frozen = FrozenLabelEmbedding({k: torch.randn(n, 3) for k, n in emb.sizes.items()}, source="x")
    empty = label_embedding_from_config(frozen.config())
    assert isinstance(empty, FrozenLabelEmbedding) and empty.source == "x" and not empty.table_entity.any()
    with pytest.raises(RGTrmInputError, match="entity ids"):
        emb.embed("entity", torch.tensor([99]))
    with pytest.raises(RGTrmInputError, match="kind"):
        emb.embed("relation", torch.tensor([0]))  # type: ignore[arg-type]
    with pytest.raises(RGTrmConfigError, match="labels.type"):
        label_embedding_from_config({"type": "clip"})
    with pytest.raises(RGTrmConfigError, match="sizes"):
        LearnedLabelEmbedding({"entity": 3}, 4)
    with pytest.raises(RGTrmInputError, match="dim"):
        FrozenLabelEmbedding(
            {"entity": torch.zeros(2, 3), "attribute": torch.zeros(2, 4), "predicate": torch.zeros(1, 3)}
        )


def test_frame_encodings() -> None:
    frames = torch.tensor([0, 1, 5, 5])
    sin = FrameEncoding(8)(frames)
    assert sin.shape == (4, 8)
    torch.testing.assert_close(sin[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    torch.testing.assert_close(sin[2], sin[3])
    assert not torch.allclose(sin[1], sin[2])
    assert not FrameEncoding(8, "none")(frames).any()
    learned = FrameEncoding(8, "learned", max_frames=6)
    assert learned(frames).shape == (4, 8)
    with pytest.raises(RGTrmInputError, match="max_frames"):
        learned(torch.tensor([6]))
    with pytest.raises(RGTrmConfigError):
        FrameEncoding(8, "rope")  # type: ignore[arg-type]
    assert FrameEncoding(7)(frames).shape == (4, 7)  # odd width: last channel zero


def test_import_rgtrm_is_light() -> None:
    code = (
        "import sys, rgtrm; "
        "heavy = ('transformers', 'torch_geometric', 'diffusers', 'matplotlib', 'spacy'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
