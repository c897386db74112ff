"""Overlaps between sentences that no word marks: a calibrated fallback for real paragraphs (issue 18).

Connectives order the clauses of a sentence (:mod:`dysen.rule_based.timeline`) and ``Meanwhile, ...`` ties a
sentence to the one before it, but real video paragraphs (ActivityNet Captions) let about a quarter of their
sentence pairs overlap in time without saying so: ``"A man is standing in a gym talking. He grabs a rope."``.
:class:`OverlapModel` is an additive log-odds model — gradient-boosted regression trees (shipped) or a logistic
regression — over what spaCy gives of two sentences of a paragraph (the root verb's lemma and aspect —
progressive, ``is seen`` + participle, participle adjuncts —, the lemmas of all its verbs and its adverbs,
sentence-initial sequence or concurrency cues, ``continue``/``still``/``again``, the subject, the distance
between the two sentences and their place in the paragraph). It gives the probability that the earlier
sentence's event is still going on when the later one starts; :meth:`OverlapModel.extents` turns those into
how many following sentences each sentence spans (a consistent set of intervals: starts keep the text order),
and the planner extends the sentence's events that far (``RuleBasedPlanner(overlap=OverlapModel.default())``).

The shipped model (``dysen/data/overlap_activitynet.json``) was fitted on the even-indexed paragraphs of
ActivityNet Captions val_2 (sorted video ids) with its decision threshold chosen there on cross-validated
predictions (scikit-learn fits the trees; predicting needs only this module);
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

from ..errors import ConfigurationError
from . import lexicon as lx

__all__ = [
    "OverlapModel",
    "PairCounts",
    "RegressionTree",
    "design_matrix",
    "extend_overlaps",
    "overlaps",
    "pair_counts",
    "pair_features",
    "paragraph_pairs",
    "sentence_features",
]

_CONTINUE = lx._words("continue keep still again resume throughout whole")
_START_CUES = lx.SEQUENTIAL | lx.FOLLOWS | lx.FIRST | frozenset(["after", "before", "until"])
_FORMAT = "dysen-overlap-model/2"
_FORMATS = ("dysen-overlap-model/1", _FORMAT)  # /1: logistic weights only


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
        if root.tag_ == "VB":  # "chop the onions": an instruction
            out["imperative"] = 1.0
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
    out["rel_a"] = position / count  # where the pair sits in the paragraph (boosted trees split on these)
    out["rel_b"] = (position + gap) / count
    out["gap"] = float(gap)
    out["same_subject"] = float(same_subject)
    if "a:progressive" in out or "a:seen" in out:
        out[f"a:ongoing&gap:{min(gap, 3)}"] = 1.0
    return out


@dataclass(frozen=True)
class RegressionTree:
    """One tree of a boosted ensemble, as plain arrays: node ``k`` sends a pair left when its feature
    ``features[k]`` (0 when the pair lacks it) is ``<= thresholds[k]``; a leaf (``left[k] == -1``) adds
    ``values[k]`` to the log-odds."""

    features: tuple[str, ...]
    thresholds: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    values: tuple[float, ...]

    def __call__(self, feats: Mapping[str, float]) -> float:
        k = 0
        while self.left[k] >= 0:
            k = self.left[k] if feats.get(self.features[k], 0.0) <= self.thresholds[k] else self.right[k]
        return self.values[k]

    def to_rows(self, column: Mapping[str, int]) -> list[list[float]]:
        """``[feature column, threshold, left, right, value]`` per node (leaves: column -1)."""
        return [
            [column[f] if lf >= 0 else -1, round(t, 6), lf, rt, round(v, 6)]
            for f, t, lf, rt, v in zip(self.features, self.thresholds, self.left, self.right, self.values)
        ]

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float]], names: Sequence[str]) -> RegressionTree:
        for r in rows:
            children_ok = all(-1 <= int(c) < len(rows) for c in (r[2], r[3])) if len(r) == 5 else False
            if not children_ok or not (-1 <= int(r[0]) < len(names)):
                raise ValueError(f"not an overlap model: bad tree node {list(r)!r}")
        return cls(
            tuple(names[int(r[0])] if int(r[2]) >= 0 else "" for r in rows),
            tuple(float(r[1]) for r in rows),
            tuple(int(r[2]) for r in rows),
            tuple(int(r[3]) for r in rows),
            tuple(float(r[4]) for r in rows),
        )


@dataclass
class OverlapModel:
    """A model of "the earlier sentence's event still goes on when the later one starts": the log-odds are
    ``bias + sum(weights[k] * x[k]) + sum(tree(x) for tree in trees)`` — a logistic regression
    (:meth:`fit`), gradient-boosted trees (:meth:`fit_boosted`, the shipped model), or both.

    Args:
        weights: feature name -> weight (unknown features weigh nothing).
        bias: the intercept (the boosted ensemble's baseline log-odds).
        threshold: probability above which a pair is read as overlapping.
        meta: where the model comes from (data, split, scores), saved with it.
        trees: regression trees whose leaf values add to the log-odds.
    """

    weights: dict[str, float]
    bias: float = 0.0
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    trees: tuple[RegressionTree, ...] = ()

    # -- persistence -------------------------------------------------------------------------------
    @classmethod
    def default(cls) -> OverlapModel:
        """The model shipped with dysen (fitted on half of ActivityNet Captions val_2)."""
        text = resources.files("dysen").joinpath("data", "overlap_activitynet.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> OverlapModel:
        """Read a model saved by :meth:`save`.

        Raises:
            ConfigurationError: the file is not JSON or not an overlap model (the message names the file).
            OSError: the file cannot be read.
        """
        try:
            row = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            return cls.from_dict(row)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}: not an overlap model file ({exc})") from exc

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> OverlapModel:
        if row.get("format") not in _FORMATS:
            raise ValueError(f"not an overlap model (format {row.get('format')!r}, expected one of {_FORMATS})")
        weights = {str(k): float(v) for k, v in dict(row["weights"]).items()}
        names = [str(n) for n in row.get("features", [])]
        trees = tuple(RegressionTree.from_rows(t, names) for t in row.get("trees", []))
        return cls(weights, float(row["bias"]), float(row["threshold"]), dict(row.get("meta", {})), trees)

    def to_dict(self) -> dict[str, Any]:
        weights = {k: round(v, 6) for k, v in sorted(self.weights.items()) if abs(v) > 1e-6}
        names = sorted({f for t in self.trees for f, lf in zip(t.features, t.left) if lf >= 0})
        column = {n: j for j, n in enumerate(names)}
        return {
            "format": _FORMAT,
            "bias": round(self.bias, 6),
            "threshold": self.threshold,
            "meta": self.meta,
            "weights": weights,
            "features": names,
            "trees": [t.to_rows(column) for t in self.trees],
        }

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (one line per tree)."""
        row = self.to_dict()
        trees = row.pop("trees")
        head = json.dumps(row, indent=1)
        body = ",\n".join("  " + json.dumps(t, separators=(",", ":")) for t in trees)
        Path(path).write_text(f'{head[:-2]},\n "trees": [\n{body}\n ]\n}}\n', encoding="utf-8")

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

        names, x, y = design_matrix(examples, min_count)
        x = np.hstack([x, np.ones((len(x), 1))])
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
        return cls({k: float(w[j]) for j, k in enumerate(names)}, float(w[-1]))

    @classmethod
    def fit_boosted(
        cls,
        examples: Sequence[tuple[Mapping[str, float], bool]],
        *,
        min_count: int = 30,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        l2: float = 1.0,
        seed: int = 0,
    ) -> OverlapModel:
        """Gradient-boosted trees on ``(features, overlaps)`` examples (scikit-learn's
        ``HistGradientBoostingClassifier``, needed only to fit), exported into plain :class:`RegressionTree`
        arrays so that prediction needs nothing but Python. Features seen in fewer than ``min_count`` examples
        are dropped. Trees read what a linear model cannot: the same cue means "still going on" in the first
        sentence of a paragraph and "next" in its last (``rel_a``/``rel_b`` against the aspect features).

        Raises:
            ImportError: scikit-learn is not installed.
            RuntimeError: the exported trees do not reproduce scikit-learn's probabilities (a changed
                scikit-learn tree layout).
        """
        try:
            from sklearn.ensemble import HistGradientBoostingClassifier
        except ImportError as exc:  # pragma: no cover - scikit-learn is in the dev extra
            raise ImportError("fitting a boosted overlap model needs scikit-learn: pip install scikit-learn") from exc
        import numpy as np

        names, x, y = design_matrix(examples, min_count)
        clf = HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=learning_rate,
            max_leaf_nodes=max_leaf_nodes,
            l2_regularization=l2,
            early_stopping=False,
            random_state=seed,
        ).fit(x, y)
        trees = tuple(_export_tree(predictors[0].nodes, names) for predictors in clf._predictors)
        model = cls({}, float(np.ravel(clf._baseline_prediction)[0]), trees=trees)
        check = slice(0, min(len(examples), 500))
        theirs = clf.predict_proba(x[check])[:, 1]
        ours = np.array([_sigmoid(model.log_odds(f)) for f, _ in examples[check]])
        if float(np.abs(theirs - ours).max(initial=0.0)) > 1e-6:
            raise RuntimeError("exported trees disagree with scikit-learn's predictions: tree layout changed?")
        return model

    # -- prediction --------------------------------------------------------------------------------
    def log_odds(self, feats: Mapping[str, float]) -> float:
        """The fitted model's log-odds of overlap for a sentence pair's features."""
        z = self.bias + sum(self.weights.get(k, 0.0) * v for k, v in feats.items())
        return z + sum(tree(feats) for tree in self.trees)

    def probability(self, feats: Mapping[str, float]) -> float:
        """P(overlap) of a sentence pair's features. A pair with an instruction (an imperative sentence:
        base-form root verb, no subject) is 0: instructions are steps done one after the other (YouCook2:
        0.07 % of pairs overlap), and the narrated paragraphs the model is fitted on hold almost none (0.1 % of
        ActivityNet sentences), so the fitted part has nothing to say about them."""
        if feats.get("a:imperative") or feats.get("b:imperative"):
            return 0.0
        return _sigmoid(self.log_odds(feats))

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
        self,
        paragraphs: Iterable[tuple[list[list[float]], list[tuple[float, float]]]],
        grid: Sequence[float] = (),
        *,
        objective: str = "relation",
    ) -> float:
        """Set (and return) the threshold that maximises ``objective`` over the sentence pairs of
        ``paragraphs`` (pair probabilities and gold ``(start, end)`` per sentence): ``"relation"``, the
        before/overlap accuracy of all pairs (which the majority "before" dominates), or ``"balanced"``, the
        mean of the overlap recall and the non-overlap recall (each relation counts alike).

        Raises:
            ValueError: an unknown ``objective``.
        """
        if objective not in ("relation", "balanced"):
            raise ValueError(f"objective must be 'relation' or 'balanced', got {objective!r}")
        paragraphs = list(paragraphs)
        grid = list(grid) or [k / 40 for k in range(1, 40)]
        best, best_score = 0.5, -1.0
        for tau in grid:
            counts = pair_counts(((self.extents_from(p, tau), gold) for p, gold in paragraphs))
            score = counts.relation if objective == "relation" else counts.balanced
            if score > best_score:
                best, best_score = tau, score
        self.threshold = best
        return best


@dataclass(frozen=True)
class PairCounts:
    """Overlap decisions against the gold over sentence pairs (``tp``: both overlap, ``fp``: planned only,
    ``fn``: gold only, ``tn``: neither)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def pairs(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def relation(self) -> float:
        """Share of pairs whose overlap decision is the gold's."""
        return (self.tp + self.tn) / max(1, self.pairs)

    @property
    def recall(self) -> float:
        """Share of the gold-overlapping pairs planned as overlapping (the concurrency accuracy)."""
        return self.tp / max(1, self.tp + self.fn)

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def balanced(self) -> float:
        """Mean of the overlap recall and the non-overlap recall."""
        return 0.5 * (self.recall + self.tn / max(1, self.tn + self.fp))


def pair_counts(paragraphs: Iterable[tuple[Sequence[int], Sequence[tuple[float, float]]]]) -> PairCounts:
    """:class:`PairCounts` of extents (how many following sentences each sentence spans, as
    :meth:`OverlapModel.extents_from` gives) against gold ``(start, end)`` per sentence."""
    tp = fp = fn = tn = 0
    for ext, gold in paragraphs:
        for i in range(len(gold)):
            for j in range(i + 1, len(gold)):
                g, p = overlaps(gold[i], gold[j]), j - i <= ext[i]
                tp += g and p
                fp += p and not g
                fn += g and not p
                tn += not (g or p)
    return PairCounts(tp, fp, fn, tn)


def design_matrix(examples: Sequence[tuple[Mapping[str, float], bool]], min_count: int) -> tuple[list[str], Any, Any]:
    """Feature names seen in at least ``min_count`` examples, the dense ``(examples, names)`` matrix
    (absent features 0) and the 0/1 labels."""
    import numpy as np

    counts: dict[str, int] = {}
    for feats, _ in examples:
        for k in feats:
            counts[k] = counts.get(k, 0) + 1
    names = sorted(k for k, c in counts.items() if c >= min_count)
    col = {k: j for j, k in enumerate(names)}
    x = np.zeros((len(examples), len(names)))
    for i, (feats, _) in enumerate(examples):
        for k, v in feats.items():
            if k in col:
                x[i, col[k]] = v
    return names, x, np.array([float(lab) for _, lab in examples])


def _export_tree(nodes: Any, names: Sequence[str]) -> RegressionTree:
    """A scikit-learn ``TreePredictor.nodes`` array as a :class:`RegressionTree` (no categorical splits;
    missing values never occur: an absent feature is 0)."""
    leaf = [bool(n["is_leaf"]) for n in nodes]
    return RegressionTree(
        tuple("" if lf else names[int(n["feature_idx"])] for n, lf in zip(nodes, leaf)),
        tuple(float(n["num_threshold"]) for n in nodes),
        tuple(-1 if lf else int(n["left"]) for n, lf in zip(nodes, leaf)),
        tuple(-1 if lf else int(n["right"]) for n, lf in zip(nodes, leaf)),
        tuple(float(n["value"]) for n in nodes),
    )


def paragraph_pairs(sents: Sequence[Any]) -> Iterable[tuple[int, int, dict[str, float]]]:
    """``(i, j, pair features)`` for every pair ``i < j`` of the sentences ``sents`` (spaCy spans)."""
    feats = [sentence_features(s) for s in sents]
    subj = [_subject(s) for s in sents]
    n = len(sents)
    for i in range(n):
        for j in range(i + 1, n):
            same = subj[i] is not None and subj[i] == subj[j]
            yield i, j, pair_features(feats[i], feats[j], j - i, i, n, same)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


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
