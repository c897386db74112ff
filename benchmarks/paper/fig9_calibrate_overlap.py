"""Fit and calibrate the cross-sentence overlap fallback of the offline planner (issue 18).

:class:`dysen.rule_based.overlap.OverlapModel` reads, for two sentences of a paragraph, the probability that
the earlier one's event is still going on when the later one starts. This script fits it on the
*calibration* half of ActivityNet Captions val_2 (paragraphs of >= 2 sentences, sorted video ids, even
positions), chooses its threshold there (the one that maximises the before/overlap accuracy of sentence
pairs), writes it to ``dysen/data/overlap_activitynet.json`` and measures it, sentence by sentence (gold
sentences, no planner), on the *held-out* half (odd positions) and on YouCook2 val (another domain, nearly no
overlaps). The planner-level measurement is in ``fig9_planner_accuracy.py`` (held-out half only). No GPU.

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
from dysen.rule_based.overlap import OverlapModel, overlaps, paragraph_pairs

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
    ok = base = total = gold_ov = pred_ov = both = 0
    for p_par, (_, gold) in zip(probs, paras):
        ext = model.extents_from(p_par, threshold)
        for i in range(len(gold)):
            for j in range(i + 1, len(gold)):
                g, p = overlaps(gold[i], gold[j]), j - i <= ext[i]
                total += 1
                ok += g == p
                base += not g
                gold_ov += g
                pred_ov += p
                both += g and p
    return {
        "pairs": total,
        "relation": ok / total,
        "text_order_relation": base / total,
        "overlap_recall": both / max(1, gold_ov),
        "overlap_precision": both / max(1, pred_ov),
        "gold_overlap_share": gold_ov / total,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l2", type=float, default=3.0)
    ap.add_argument("--out", default=str(MODEL))
    args = ap.parse_args(argv)
    nlp = load_nlp()
    cal = paragraphs(DATA / "activitynet_captions_val_2.json", "calibration")
    cal_spans = parsed(nlp, cal)
    examples = [
        (feats, overlaps(gold[i], gold[j]))
        for sents, (_, gold) in zip(cal_spans, cal)
        for i, j, feats in paragraph_pairs(sents)
    ]
    model = OverlapModel.fit(examples, l2=args.l2)
    cal_probs = [model.pair_probabilities(s) for s in cal_spans]
    tau = model.calibrate(zip(cal_probs, [gold for _, gold in cal]))
    report: dict[str, Any] = {"threshold": tau, "calibration (ActivityNet, even)": scores(model, cal_probs, cal)}
    held = paragraphs(DATA / "activitynet_captions_val_2.json", "held-out")
    held_probs = [model.pair_probabilities(s) for s in parsed(nlp, held)]
    report["held-out (ActivityNet, odd)"] = scores(model, held_probs, held)
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
        "l2": args.l2,
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
