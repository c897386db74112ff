"""Mapping free wording onto a closed vocabulary of predicates and entity kinds.

A :class:`ClosedVocabulary` names what a downstream model knows: its predicates (``"move left"``,
``"jump"``, ``"approach"``, ``"turn <colour>"`` ...), its entity kinds (``"circle"``) and its colours. Given
one, :class:`~dysen.rule_based.RuleBasedPlanner` maps each predicate it reads (``"slide left"``,
``"hop"``, ``"fade away"``, ``"change to"`` + ``magenta``) and each noun (``"ball"``, ``"box"``) onto it:

1. a predicate or kind already in the vocabulary is kept;
2. structure first: a colour word in the predicate or as its target gives ``turn <colour>``; a comparative
   or size word gives the vocabulary's growing or shrinking predicate (by the size's polarity); a
   direction word keeps the direction (``"drift downward"`` can only be ``move down``);
3. a few English idioms the sentence encoder reads wrongly (``"fade in"``: it sees *fade* and answers
   *disappear*) are glossed into plainer words first (:data:`GLOSSES`, general English, not a table of
   any one data set);
4. otherwise the nearest vocabulary entry by cosine similarity of the MiniLM sentence encoder shipped with
   dysen (:class:`dysen.selection.TextEncoder`), the phrase and the candidates read in the same frame
   (``"the shape <phrase>"``); predicates with a target compete only with the vocabulary's binary ones.
   Below ``min_similarity`` the wording is kept as it is.

Nothing here is used unless a vocabulary is given, so the planner's open-vocabulary output is unchanged
by default.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import lexicon as lx

__all__ = ["GLOSSES", "ClosedVocabulary"]

GLOSSES: dict[str, str] = {
    "fade in": "appear",
    "fade into view": "appear",
    "come into view": "appear",
    "fade out": "disappear",
    "fade away": "disappear",
    "fade": "disappear",
    "go away": "disappear",
    "sink": "go down",
    "fall": "go down",
    "drop": "go down",
    "descend": "go down",
    "rise": "go up",
    "ascend": "go up",
    "contract": "shrink",
    "twirl": "spin",
}
"""Idioms and verbs that a small sentence encoder maps to their antonym or to nothing: plainer English."""

_APPROACH_WORDS = lx._words("toward towards close closer near nearer approach")
_CONTACT_WORDS = lx._words("into against reach hit contact collide bump")
_DIRECTION_NORMAL = {
    "upward": "up",
    "upwards": "up",
    "downward": "down",
    "downwards": "down",
    "leftward": "left",
    "leftwards": "left",
    "rightward": "right",
    "rightwards": "right",
}
_LARGE = lx._words("large big bigger larger huge giant enormous")
_SMALL = lx._words("small smaller little tiny miniature")
_CHANGE_VERBS = lx._words("turn become change switch go get grow fade")


@dataclass
class ClosedVocabulary:
    """Predicates, entity kinds and colours of a closed world (see the module docstring).

    Args:
        predicates: the predicates the planner may output; ``turn <colour>`` entries are colour changes.
        binary: those that take a target (default: none known; then every predicate may take one).
        kinds: entity kinds (nouns); other nouns are mapped to the nearest kind when similar enough.
        colours: colour words of the world (default: the colours of the ``turn <colour>`` predicates).
        encoder: a :class:`dysen.selection.TextEncoder` (default: the shipped all-MiniLM-L6-v2, loaded on
            first use).
        min_similarity: cosine similarity below which a wording is kept as it is.
        kind_similarity, kind_margin: a noun becomes a kind only with at least this similarity (read as
            ``"a <noun>"``) and this lead over the second kind (``"man"``, ``"dog"`` stay as they are).
        default_kind: the kind given to an entity that the text names only by a kind-less expression
            (``"the blue one appears"``, and no later mention says what it is): a closed world cannot draw
            an entity of no kind, so this is a guess; ``None``: keep ``one``/``shape`` as the label.
    """

    predicates: Sequence[str]
    binary: Sequence[str] = ()
    kinds: Sequence[str] = ()
    colours: Sequence[str] = ()
    encoder: Any = None
    min_similarity: float = 0.5
    kind_similarity: float = 0.35
    kind_margin: float = 0.025
    default_kind: str | None = None
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.predicates = tuple(self.predicates)
        self.binary = tuple(self.binary)
        self.kinds = tuple(self.kinds)
        turns = [p[5:] for p in self.predicates if p.startswith("turn ") and len(p.split()) == 2]
        self.colours = tuple(self.colours) or tuple(turns)

    @classmethod
    def from_world(cls, **kwargs: Any) -> ClosedVocabulary:
        """The vocabulary of the procedural world :mod:`vdm.world` (its predicate, shape and colour names;
        the default kind is its first shape)."""
        from vdm.world import vocabulary as wv

        preds = (*wv.UNARY_ACTIONS, *wv.BINARY_ACTIONS, *(wv.turn_predicate(c) for c in wv.COLOURS))
        kwargs.setdefault("default_kind", wv.SHAPES[0])
        return cls(preds, wv.BINARY_ACTIONS, wv.SHAPES, tuple(wv.COLOURS), **kwargs)

    # -- the encoder ----------------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> Any:
        with self._lock:
            if self.encoder is None:
                from ..selection.encoder import TextEncoder

                self.encoder = TextEncoder()
        return self.encoder.encode(list(texts))

    def _nearest(self, text: str, candidates: Sequence[str], frame: str) -> tuple[str, float, float]:
        """(best candidate, its similarity, margin to the second) with both read as ``frame.format(x)``."""
        if not candidates:
            return text, 0.0, 0.0
        key = (frame, *candidates)
        with self._lock:
            mat = self._cache.get(key)
        if mat is None:
            mat = self._encode([frame.format(c) for c in candidates])
            with self._lock:
                self._cache[key] = mat
        vec = self._encode([frame.format(text)])[0]
        sims = (mat @ vec).tolist()
        order = sorted(range(len(sims)), key=lambda k: -sims[k])
        second = sims[order[1]] if len(order) > 1 else -1.0
        return candidates[order[0]], sims[order[0]], sims[order[0]] - second

    # -- kinds ------------------------------------------------------------------------------------
    def kind(self, label: str) -> str:
        """An entity label with its head noun mapped to the nearest kind (``"ball"`` -> ``"circle"``)."""
        if not self.kinds or not label:
            return label
        words = label.split()
        head = words[-1]
        if head in self.kinds or head in lx.REFERRING_HEADS or head in lx.PERSON_NOUNS:
            return label
        best, sim, margin = self._nearest(head, self.kinds, "a {}")
        if sim >= self.kind_similarity and margin >= self.kind_margin:
            return " ".join([*words[:-1], best])
        return label

    # -- predicates --------------------------------------------------------------------------------
    def _direction(self, words: Iterable[str]) -> str | None:
        for w in words:
            w = _DIRECTION_NORMAL.get(w, w)
            if w in ("left", "right", "up", "down"):
                return w
        return None

    def predicate(self, predicate: str, target_label: str | None) -> tuple[str, bool]:
        """``(predicate in the vocabulary, keep the target)`` for an extracted predicate and target label."""
        preds = self.predicates
        if predicate in preds:
            return predicate, True
        words = predicate.split()
        verb = words[0] if words else ""
        # a colour change: "turns green", "changes to magenta" (target: the colour read as a noun)
        target_words = target_label.split() if target_label else []
        colour = next((w for w in words[1:] if w in self.colours), None)
        drop_target = False
        if colour is None and target_words and all(w in self.colours for w in target_words):
            colour, drop_target = target_words[-1], True
        if colour is not None and f"turn {colour}" in preds:
            return f"turn {colour}", not drop_target
        binary = [p for p in preds if p in self.binary] if self.binary else list(preds)
        unary = [p for p in preds if p not in self.binary and not p.startswith("turn ")]
        if target_label is not None and binary:
            text = GLOSSES.get(predicate, predicate)
            if any(w in _APPROACH_WORDS for w in text.split()) and "approach" in binary:
                return "approach", True
            if any(w in _CONTACT_WORDS for w in text.split()) and "touch" in binary:
                return "touch", True
            best, sim, _ = self._nearest(f"{text} the box", [f"{p} the box" for p in binary], "the shape {}")
            if sim >= self.min_similarity:
                return best[: -len(" the box")], True
            return predicate, True
        # sizes: "gets bigger", "grows larger", "shrinks down"
        sizes = {w for w in words[1:] if w in _LARGE or w in _SMALL}
        if sizes and verb in _CHANGE_VERBS | {"grow", "shrink"}:
            want = "large" if sizes & _LARGE else "small"
            cands = [p for p in unary if p in ("grow", "shrink")]
            if cands:
                best, sim, _ = self._nearest(f"get {'bigger' if want == 'large' else 'smaller'}", cands, "it {}")
                return best, True
        if predicate in GLOSSES:
            text = GLOSSES[predicate]
        elif verb in GLOSSES:
            text = " ".join([GLOSSES[verb], *words[1:]])
        else:
            text = predicate
        direction = self._direction(text.split()[1:] or text.split())
        best, sim, _ = self._nearest(text, unary, "the shape {}")
        if direction is not None:
            with_dir = [p for p in unary if self._direction(p.split()[1:]) == direction]
            if with_dir and (self._direction(best.split()[1:]) is not None or sim < self.min_similarity):
                best, sim, _ = self._nearest(text, with_dir, "the shape {}")
                return best, True
        if sim >= self.min_similarity:
            return best, True
        return predicate, True
