"""Overlaps between sentences that no word marks: a calibrated fallback for real paragraphs (issue 18).

Connectives order the clauses of a sentence (:mod:`dysen.rule_based.timeline`) and ``Meanwhile, ...`` ties a
sentence to the one before it, but real video paragraphs (ActivityNet Captions) let about a quarter of their
sentence pairs overlap in time without saying so: ``"A man is standing in a gym talking. He grabs a rope."``.
:class:`OverlapModel` is a logistic regression over what spaCy gives of two sentences of a paragraph (the
root verb's lemma and aspect — progressive, ``is seen`` + participle, participle adjuncts —, the lemmas of
all its verbs and its adverbs, sentence-initial
sequence or concurrency cues, ``continue``/``still``/``again``, the subject, the distance between the two
sentences and their place in the paragraph). It gives the probability that the earlier sentence's event is
still going on when the later one starts; :meth:`OverlapModel.extents` turns those into how many following
sentences each sentence spans (a consistent set of intervals: starts keep the text order), and the planner
extends the sentence's events that far (``RuleBasedPlanner(overlap=OverlapModel.default())``).

The shipped model (``dysen/data/overlap_activitynet.json``) was fitted on the even-indexed paragraphs of
ActivityNet Captions val_2 (sorted video ids) with its decision threshold chosen there;
``benchmarks/paper/fig9_calibrate_overlap.py`` refits it and measures it on the odd-indexed half and on
YouCook2. Nothing here runs unless a model is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import lexicon as lx

__all__ = ["OverlapModel", "extend_overlaps", "overlaps", "pair_features", "paragraph_pairs", "sentence_features"]

_CONTINUE = lx._words("continue keep still again resume throughout whole")
_START_CUES = lx.SEQUENTIAL | lx.FOLLOWS | lx.FIRST | frozenset(["after", "before", "until"])
_FORMAT = "dysen-overlap-model/1"


def _first_word(sent: Any) -> str:
    return next((t.lower_ for t in sent if not t.is_punct), "")


def sentence_features(sent: Any) -> dict[str, float]:
    """Features of one sentence (a spaCy ``Span`` or ``Doc``); names are prefixed per side in pairs."""
    root = sent.root
    out: dict[str, float] = {"len": math.log1p(len(sent)) / 3.0, f"root:{root.lemma_.lower()}": 1.0}
    aux = {c.lower_ for c in root.children if c.dep_ in ("aux", "auxpass")}
    if root.tag_ == "VBG" and aux & {"is", "are", "was", "were", "'s", "'re"}:
        out["progressive"] = 1.0
    if root.lemma_.lower() in ("see", "show") and any(c.tag_ in ("VBG", "VBN") for c in root.children):
        out["seen"] = 1.0
    if any(t.tag_ == "VBG" and t.dep_ in ("advcl", "xcomp", "acl", "conj") for t in sent):
        out["participle"] = 1.0
    first = _first_word(sent)
    if first in _START_CUES:
        out["starts_sequence"] = 1.0
    if first in lx.CONCURRENT:
        out["starts_concurrent"] = 1.0
    lows = {t.lower_ for t in sent}
    lemmas = {t.lemma_.lower() for t in sent}
    if lows & lx.SEQUENTIAL:
        out["sequence_word"] = 1.0
    if lows & lx.CONCURRENT:
        out["concurrent_word"] = 1.0
    if (lows | lemmas) & _CONTINUE:
        out["continue"] = 1.0
    for t in sent:  # every verb lemma and adverb ("standing", "talking", "again", "back")
        if t.pos_ == "VERB":
            out[f"verb:{t.lemma_.lower()}"] = 1.0
        elif t.pos_ == "ADV":
            out[f"adv:{t.lower_}"] = 1.0
        if t.tag_ == "VBG":
            out["any_participle"] = 1.0
    subj = next((c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is None:
        out["no_subject"] = 1.0
    elif subj.pos_ == "PRON":
        out["pronoun_subject"] = 1.0
    return out


def _subject(sent: Any) -> str | None:
    subj = next((c for c in sent.root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    return None if subj is None else subj.lemma_.lower()


def pair_features(
    a: Mapping[str, float], b: Mapping[str, float], gap: int, position: int, count: int, same_subject: bool
) -> dict[str, float]:
    """Features of the sentence pair (earlier ``a``, later ``b``) ``gap`` sentences apart; ``position`` is
    the earlier one's index and ``count`` the number of sentences with events in the paragraph."""
    out = {f"a:{k}": v for k, v in a.items()}
    out |= {f"b:{k}": v for k, v in b.items()}
    out[f"gap:{min(gap, 3)}"] = 1.0
    out["first"] = float(position == 0)
    out["last"] = float(position + gap == count - 1)
    out["count"] = math.log(count)
    out["same_subject"] = float(same_subject)
    if "a:progressive" in out or "a:seen" in out:
        out[f"a:ongoing&gap:{min(gap, 3)}"] = 1.0
    return out


@dataclass
class OverlapModel:
    """A logistic model of "the earlier sentence's event still goes on when the later one starts".

    Args:
        weights: feature name -> weight (unknown features weigh nothing).
        bias: the intercept.
        threshold: probability above which a pair is read as overlapping.
        meta: where the model comes from (data, split, scores), saved with it.
    """

    weights: dict[str, float]
    bias: float = 0.0
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    # -- persistence -------------------------------------------------------------------------------
    @classmethod
    def default(cls) -> OverlapModel:
        """The model shipped with dysen (fitted on half of ActivityNet Captions val_2)."""
        text = resources.files("dysen").joinpath("data", "overlap_activitynet.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> OverlapModel:
        if row.get("format") != _FORMAT:
            raise ValueError(f"not an overlap model (format {row.get('format')!r}, expected {_FORMAT!r})")
        weights = {str(k): float(v) for k, v in dict(row["weights"]).items()}
        return cls(weights, float(row["bias"]), float(row["threshold"]), dict(row.get("meta", {})))

    def to_dict(self) -> dict[str, Any]:
        weights = {k: round(v, 6) for k, v in sorted(self.weights.items()) if abs(v) > 1e-6}
        return {
            "format": _FORMAT,
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
            "meta": self.meta,
            "weights": weights,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    # -- fitting -----------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        examples: Sequence[tuple[Mapping[str, float], bool]],
        *,
        l2: float = 1.0,
        min_count: int = 10,
        iterations: int = 25,
    ) -> OverlapModel:
        """L2-regularised logistic regression (Newton steps) on ``(features, overlaps)`` examples; features
        seen in fewer than ``min_count`` examples are dropped. The threshold stays 0.5 (see :meth:`calibrate`)."""
        import numpy as np

        counts: dict[str, int] = {}
        for feats, _ in examples:
            for k in feats:
                counts[k] = counts.get(k, 0) + 1
        names = sorted(k for k, c in counts.items() if c >= min_count)
        col = {k: j for j, k in enumerate(names)}
        x = np.zeros((len(examples), len(names) + 1))
        x[:, -1] = 1.0
        for i, (feats, _) in enumerate(examples):
            for k, v in feats.items():
                if k in col:
                    x[i, col[k]] = v
        y = np.array([float(lab) for _, lab in examples])
        w = np.zeros(x.shape[1])
        reg = np.full(x.shape[1], l2)
        reg[-1] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-(x @ w)))
            grad = x.T @ (p - y) + reg * w
            hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if float(np.abs(step).max()) < 1e-6:
                break
        return cls({k: float(w[j]) for k, j in col.items()}, float(w[-1]))

    # -- prediction --------------------------------------------------------------------------------
    def probability(self, feats: Mapping[str, float]) -> float:
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in feats.items())
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def pair_probabilities(self, sents: Sequence[Any]) -> list[list[float]]:
        """``p[i][j]`` (``j > i``) for the sentences ``sents`` (spaCy spans, in text order)."""
        n = len(sents)
        p = [[0.0] * n for _ in range(n)]
        for i, j, feats in paragraph_pairs(sents):
            p[i][j] = self.probability(feats)
        return p

    def extents_from(self, p: Sequence[Sequence[float]], threshold: float | None = None) -> list[int]:
        """How many following sentences each sentence spans: the run of ``j = i+1, i+2, ...`` whose pair
        probability is above the threshold."""
        tau = self.threshold if threshold is None else threshold
        n = len(p)
        out = []
        for i in range(n):
            m = 0
            while i + m + 1 < n and p[i][i + m + 1] > tau:
                m += 1
            out.append(m)
        return out

    def extents(self, sents: Sequence[Any]) -> list[int]:
        return self.extents_from(self.pair_probabilities(sents))

    def calibrate(
        self, paragraphs: Iterable[tuple[list[list[float]], list[tuple[float, float]]]], grid: Sequence[float] = ()
    ) -> float:
        """Set (and return) the threshold that maximises the before/overlap relation accuracy of sentence
        pairs over ``paragraphs`` (pair probabilities and gold ``(start, end)`` per sentence)."""
        paragraphs = list(paragraphs)
        grid = list(grid) or [k / 40 for k in range(1, 40)]
        best, best_acc = 0.5, -1.0
        for tau in grid:
            ok = total = 0
            for p, gold in paragraphs:
                ext = self.extents_from(p, tau)
                for i in range(len(gold)):
                    for j in range(i + 1, len(gold)):
                        total += 1
                        ok += (j - i <= ext[i]) == overlaps(gold[i], gold[j])
            acc = ok / max(1, total)
            if acc > best_acc:
                best, best_acc = tau, acc
        self.threshold = best
        return best


def paragraph_pairs(sents: Sequence[Any]) -> Iterable[tuple[int, int, dict[str, float]]]:
    """``(i, j, pair features)`` for every pair ``i < j`` of the sentences ``sents`` (spaCy spans)."""
    feats = [sentence_features(s) for s in sents]
    subj = [_subject(s) for s in sents]
    n = len(sents)
    for i in range(n):
        for j in range(i + 1, n):
            same = subj[i] is not None and subj[i] == subj[j]
            yield i, j, pair_features(feats[i], feats[j], j - i, i, n, same)


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Do two ``(start, end)`` intervals overlap (share more than an end point)?"""
    return not (a[1] <= b[0] or b[1] <= a[0])


def extend_overlaps(events: Sequence[Any], sentence_of: Sequence[int], extents: Mapping[int, int]) -> None:
    """Extend, in place, the events of each sentence ``s`` with ``extents[s] = m > 0`` that end where the
    sentence's span ends, to the end of the ``m``-th following sentence that has events (``sentence_of``:
    the sentence of each event; events carry ``start``/``end``)."""
    order = sorted({s for s in sentence_of})
    span_end = {s: max(e.end for e, t in zip(events, sentence_of) if t == s) for s in order}
    for k, s in enumerate(order):
        m = extents.get(s, 0)
        if m <= 0:
            continue
        until = max(span_end[t] for t in order[k : k + m + 1])
        for ev, t in zip(events, sentence_of):
            if t == s and ev.end == span_end[s]:
                ev.end = max(ev.end, until)
