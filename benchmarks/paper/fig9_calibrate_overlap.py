"""Fit and calibrate the cross-sentence overlap fallback of the offline planner (issue 18).

:class:`dysen.rule_based.overlap.OverlapModel` reads, for two sentences of a paragraph, the probability that
the earlier one's event is still going on when the later one starts. This script fits it on the
*calibration* half of ActivityNet Captions val_2 (paragraphs of >= 2 sentences, sorted video ids, even
positions) — gradient-boosted trees by default (``--kind logistic``: the first, linear model) —, chooses its
threshold there on cross-validated predictions (by default the one that maximises the balanced accuracy of
the overlap decision of sentence pairs: the mean of overlap and non-overlap recall; ``--objective relation``:
plain before/overlap accuracy, which the three quarters of non-overlapping pairs dominate), writes it to
``dysen/data/overlap_activitynet.json`` and measures it, sentence by sentence (gold sentences, no planner), on
the *held-out* half (odd positions) and on YouCook2 val (another domain, nearly no overlaps). The planner-level
measurement is in ``fig9_planner_accuracy.py`` (held-out half only). No GPU; scikit-learn to fit the trees.

Usage::

    .venv/bin/python benchmarks/paper/fig9_calibrate_overlap.py
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dysen.nlp import load_nlp
from dysen.rule_based.overlap import OverlapModel, overlaps, pair_counts, paragraph_pairs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = Path("/work/shared/data")
MODEL = ROOT / "dysen" / "data" / "overlap_activitynet.json"

Paragraph = tuple[list[str], list[tuple[float, float]]]


def paragraphs(path: Path, half: str | None) -> list[Paragraph]:
    """Paragraphs (sentences, gold intervals) of >= 2 sentences, sorted by video id; ``half``:
    ``"calibration"`` (even positions), ``"held-out"`` (odd positions) or ``None`` (all)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = [k for k in sorted(data) if len(data[k]["sentences"]) >= 2]
    if half is not None:
        keys = keys[0 if half == "calibration" else 1 :: 2]
    return [
        ([" ".join(s.split()) for s in data[k]["sentences"]], [tuple(t) for t in data[k]["timestamps"]]) for k in keys
    ]


def parsed(nlp: Any, paras: Sequence[Paragraph]) -> list[list[Any]]:
    """Each paragraph's sentences as parsed spans (one parse per gold sentence)."""
    docs = iter(nlp.pipe([s for sents, _ in paras for s in sents], batch_size=256))
    return [[next(docs)[:] for _ in sents] for sents, _ in paras]


def scores(
    model: OverlapModel, probs: list[list[list[float]]], paras: Sequence[Paragraph], threshold: float | None = None
) -> dict[str, float]:
    """Sentence-pair scores of the model's extents (pair probabilities ``probs`` per paragraph)."""
    c = pair_counts((model.extents_from(p, threshold), gold) for p, (_, gold) in zip(probs, paras))
    return {
        "pairs": c.pairs,
        "relation": c.relation,
        "text_order_relation": (c.tn + c.fp) / max(1, c.pairs),
        "overlap_recall": c.recall,
        "overlap_precision": c.precision,
        "balanced": c.balanced,
        "gold_overlap_share": (c.tp + c.fn) / max(1, c.pairs),
    }


def pair_auc(probs: Sequence[list[list[float]]], paras: Sequence[Paragraph]) -> float:
    """ROC AUC of the pair probabilities against the gold overlaps (how well the model ranks, whatever the
    threshold)."""
    from sklearn.metrics import roc_auc_score

    p, y = [], []
    for p_par, (_, gold) in zip(probs, paras):
        for i in range(len(gold)):
            for j in range(i + 1, len(gold)):
                p.append(p_par[i][j])
                y.append(overlaps(gold[i], gold[j]))
    return float(roc_auc_score(y, p))


def examples_of(spans: Sequence[list[Any]], paras: Sequence[Paragraph]) -> list[tuple[dict[str, float], bool]]:
    """``(pair features, gold overlap)`` of every sentence pair of every paragraph."""
    return [
        (feats, overlaps(gold[i], gold[j]))
        for sents, (_, gold) in zip(spans, paras)
        for i, j, feats in paragraph_pairs(sents)
    ]


def fit(kind: str, examples: Sequence[tuple[dict[str, float], bool]], l2: float) -> OverlapModel:
    if kind == "boosted":
        return OverlapModel.fit_boosted(examples)
    return OverlapModel.fit(examples, l2=l2)


def cross_validated_probs(
    kind: str, spans: Sequence[list[Any]], paras: Sequence[Paragraph], l2: float, folds: int
) -> list[list[list[float]]]:
    """Pair probabilities of every paragraph from a model fitted on the other folds (paragraph ``k`` is in
    fold ``k % folds``), so that the threshold is chosen on predictions the model has not been fitted on."""
    out: list[list[list[float]]] = [[] for _ in paras]
    for f in range(folds):
        train = [k for k in range(len(paras)) if k % folds != f]
        model = fit(kind, examples_of([spans[k] for k in train], [paras[k] for k in train]), l2)
        for k in range(f, len(paras), folds):
            out[k] = model.pair_probabilities(spans[k])
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("boosted", "logistic"), default="boosted")
    ap.add_argument("--l2", type=float, default=3.0, help="L2 weight of the logistic model")
    ap.add_argument(
        "--objective", choices=("balanced", "relation"), default="balanced", help="what the threshold maximises"
    )
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds of the calibration half (threshold)")
    ap.add_argument("--out", default=str(MODEL))
    args = ap.parse_args(argv)
    nlp = load_nlp()
    cal = paragraphs(DATA / "activitynet_captions_val_2.json", "calibration")
    cal_spans = parsed(nlp, cal)
    examples = examples_of(cal_spans, cal)
    cv_probs = cross_validated_probs(args.kind, cal_spans, cal, args.l2, args.folds)
    model = fit(args.kind, examples, args.l2)
    tau = model.calibrate(zip(cv_probs, [gold for _, gold in cal]), objective=args.objective)
    cal_probs = [model.pair_probabilities(s) for s in cal_spans]
    report: dict[str, Any] = {
        "threshold": tau,
        f"calibration (ActivityNet, even; {args.folds}-fold cross-validated)": scores(model, cv_probs, cal),
        "calibration (ActivityNet, even; fitted on it)": scores(model, cal_probs, cal),
    }
    held = paragraphs(DATA / "activitynet_captions_val_2.json", "held-out")
    held_probs = [model.pair_probabilities(s) for s in parsed(nlp, held)]
    report["held-out (ActivityNet, odd)"] = scores(model, held_probs, held)
    report["held-out (ActivityNet, odd)"]["pair_auc"] = pair_auc(held_probs, held)
    report["held-out operating points (threshold: scores)"] = {
        f"{t:.2f}": scores(model, held_probs, held, t) for t in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
    }
    yc = [
        ([s if s.endswith((".", "!", "?")) else s + "." for s in sents], gold)
        for sents, gold in paragraphs(DATA / "youcook2_val.json", None)
    ]
    report["YouCook2 val (all)"] = scores(model, [model.pair_probabilities(s) for s in parsed(nlp, yc)], yc)
    model.meta = {
        "data": "ActivityNet Captions val_2, paragraphs of >= 2 sentences, sorted video ids, even positions",
        "kind": args.kind,
        "l2": args.l2,
        "threshold": f"maximises the {args.objective} accuracy of {args.folds}-fold cross-validated predictions",
        "examples": len(examples),
        "command": "python benchmarks/paper/fig9_calibrate_overlap.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "scores": report,
    }
    model.save(args.out)
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
