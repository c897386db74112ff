"""Label vocabularies: label strings <-> integer ids for tensor encodings."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .dynamic import DynamicSceneGraph
from .errors import SchemaError, VocabularyError
from .io_json import read_json_file
from .labels import normalize_label

__all__ = ["DSGVocab", "Vocabulary"]

UNK = "<unk>"


class Vocabulary:
    """An ordered label -> id map. Id 0 is ``<unk>``.

    An open vocabulary grows on lookup; a frozen one maps unknown labels to 0 (``strict=False``) or
    raises :class:`~dsg.errors.VocabularyError` (``strict=True``).
    """

    def __init__(self, labels: Iterable[str] = (), *, frozen: bool = False, strict: bool = False) -> None:
        self._itos: list[str] = [UNK]
        self._stoi: dict[str, int] = {UNK: 0}
        self.frozen = False
        self.strict = strict
        for label in labels:
            self.index(label)
        self.frozen = frozen

    def index(self, label: str) -> int:
        """Id of ``label`` (added when the vocabulary is open)."""
        idx = self._stoi.get(label)
        if idx is not None:
            return idx
        norm = normalize_label(label)
        idx = self._stoi.get(norm)
        if idx is not None:
            self._stoi[label] = idx
            return idx
        if self.frozen:
            if self.strict:
                raise VocabularyError(f"label {label!r} is not in the frozen vocabulary ({len(self)} labels)")
            return 0
        idx = len(self._itos)
        self._itos.append(norm)
        self._stoi[norm] = idx
        self._stoi[label] = idx
        return idx

    __getitem__ = index

    def label(self, idx: int) -> str:
        try:
            return self._itos[idx]
        except IndexError:
            raise VocabularyError(f"id {idx} is out of range for a vocabulary of {len(self)} labels") from None

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and (label in self._stoi or normalize_label(label) in self._stoi)

    @property
    def labels(self) -> list[str]:
        return list(self._itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} labels{', frozen' if self.frozen else ''})"


@dataclass
class DSGVocab:
    """The three vocabularies a DSG tensor encoding needs: entity labels, attributes, predicates."""

    entities: Vocabulary = field(default_factory=Vocabulary)
    attributes: Vocabulary = field(default_factory=Vocabulary)
    predicates: Vocabulary = field(default_factory=Vocabulary)

    @classmethod
    def build(cls, dsgs: Iterable[DynamicSceneGraph], *, frozen: bool = True) -> DSGVocab:
        vocab = cls()
        for dsg in dsgs:
            vocab.add(dsg)
        vocab.freeze(frozen)
        return vocab

    def add(self, dsg: DynamicSceneGraph) -> None:
        for ent in dsg.entities:
            self.entities.index(ent.label)
            for a in ent.attributes:
                self.attributes.index(a)
        for sg in dsg.frames:
            for _, a in sg.attributes:
                self.attributes.index(a)
            for r in sg.relations:
                self.predicates.index(r.predicate)

    def freeze(self, frozen: bool = True) -> None:
        for v in (self.entities, self.attributes, self.predicates):
            v.frozen = frozen

    @property
    def frozen(self) -> bool:
        return self.entities.frozen and self.attributes.frozen and self.predicates.frozen

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "entities": self.entities.labels,
            "attributes": self.attributes.labels,
            "predicates": self.predicates.labels,
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[str]], *, frozen: bool = True) -> DSGVocab:
        """Inverse of :meth:`to_dict`; anything else raises :class:`~dsg.errors.SchemaError`."""
        if not isinstance(data, dict):
            raise SchemaError(f"a vocabulary must be an object, got {type(data).__name__}")
        vocabs = []
        for key in ("entities", "attributes", "predicates"):
            labels = data.get(key)
            if not isinstance(labels, list) or not all(isinstance(lab, str) for lab in labels):
                raise SchemaError(f"vocabulary {key!r} must be a list of strings, got {labels!r}")
            if not labels or labels[0] != UNK:
                raise SchemaError(f"vocabulary {key!r} must start with '<unk>'")
            vocabs.append(Vocabulary(labels[1:], frozen=frozen))
        return cls(*vocabs)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DSGVocab:
        """Read a vocabulary saved with :meth:`save` (UTF-8 JSON, within the limits of :mod:`dsg.limits`)."""
        return cls.from_dict(read_json_file(path))
