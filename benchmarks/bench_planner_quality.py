"""Quality of the offline RuleBasedPlanner's action planning (paper §4.1 Step I; Fig. 9 format).

1. The labelled caption set shipped in ``dysen/data/planner_gold.jsonl``: triplet / predicate / argument
   accuracy (``dsg.planning_accuracy``, the paper's Fig. 9), event-order Kendall tau and pairwise accuracy
   (``dsg.event_order``), exact-match rate and attribute recall, for the ``dev`` split (the captions the rules
   were developed on) and the ``test`` split (written before the planner was run on them).
2. Real captions with timestamps: a fixed sample of ActivityNet Captions (val_2) and YouCook2 (val)
   paragraphs. Each paragraph's sentences are joined and planned as one text; every planned event is traced
   back to its sentence (character offsets), and a sentence's planned interval is the span of its events.
   The gold order comes from the sentence timestamps. Reported: coverage (sentences with at least one event),
   sentence-level Kendall tau-b of start times, pairwise relation accuracy over sentence pairs (before /
   overlap / after), and event-level order accuracy over pairs of events from different sentences, each
   next to the "text order" baseline (sentence k occupies step k, no overlaps) on the same sentences.
3. Captions of the procedural world (``vdm.world``, when installed) per difficulty level, against the
   world's gold schedules (the planner runs with ``colour_in_label=True``, the world's entity naming).

Usage::

    .venv/bin/python benchmarks/bench_planner_quality.py                 # 200 paragraphs per dataset
    .venv/bin/python benchmarks/bench_planner_quality.py --paragraphs 50
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from scipy.stats import kendalltau

from dysen import RuleBasedPlanner
from dysen.evaluation import evaluate_planner, load_planner_gold

DATA = Path("/work/shared/data")


def labelled_set(planner: RuleBasedPlanner) -> None:
    print("## Labelled captions (Fig. 9 format)")
    print(
        f"{'split':6} {'n':>4} {'triplet':>8} {'predicate':>10} {'argument':>9} {'tau':>6} "
        f"{'pairwise':>9} {'exact':>6} {'attr.rec':>9}"
    )
    failures = []
    for split in ("dev", "test"):
        r = evaluate_planner(planner, load_planner_gold(split=split))
        print(
            f"{split:6} {r.num_captions:4d} {r.triplet:8.3f} {r.predicate:10.3f} {r.argument:9.3f} "
            f"{r.kendall_tau:6.3f} {r.pairwise_order:9.3f} {r.exact:6.3f} {r.attribute_recall:9.3f}"
        )
        failures += [row for row in r.rows if not row["exact"]]
    for row in failures:
        print(
            f"  not exact: {row['id']}: {row['caption']}\n    predicted {row['predicted']}\n    gold      {row['gold']}"
        )


def relation(a: tuple[float, float], b: tuple[float, float]) -> str:
    if a[1] <= b[0]:
        return "before"
    if b[1] <= a[0]:
        return "after"
    return "overlap"


def paragraph(sentences: list[str], punctuate: bool) -> tuple[str, list[tuple[int, int]]]:
    """The paragraph text (whitespace-normalised) and each sentence's character span in it."""
    parts, spans, pos = [], [], 0
    for s in sentences:
        s = " ".join(s.split())
        if punctuate and s and s[-1] not in ".!?":
            s += "."
        spans.append((pos, pos + len(s)))
        parts.append(s)
        pos += len(s) + 1
    return " ".join(parts), spans


def real_captions(planner: RuleBasedPlanner, name: str, path: Path, n: int, seed: int) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = [k for k in sorted(data) if len(data[k]["sentences"]) >= 2]
    sample = random.Random(seed).sample(keys, min(n, len(keys)))
    punctuate = name == "YouCook2"  # recipe steps come without final punctuation
    texts, spans, golds = [], [], []
    for k in sample:
        text, sp = paragraph(data[k]["sentences"], punctuate)
        texts.append(text)
        spans.append(sp)
        golds.append([tuple(t) for t in data[k]["timestamps"]])
    t0 = time.perf_counter()
    analyses = list(planner.analyse_many(texts))
    elapsed = time.perf_counter() - t0
    stats: Counter[str] = Counter()
    taus = {"planner": [], "text order": []}
    for sp, gold, an in zip(spans, golds, analyses):
        # events -> sentence by character offset (offsets refer to the normalised paragraph text)
        by_sentence: dict[int, list] = {}
        for ev in an.events:
            idx = next((i for i, (a, b) in enumerate(sp) if a <= ev.char < b), None)
            if idx is not None:
                by_sentence.setdefault(idx, []).append(ev)
        stats["sentences"] += len(sp)
        stats["covered"] += len(by_sentence)
        stats["events"] += len(an.events)
        covered = sorted(by_sentence)
        if len(covered) < 2:
            continue
        pred = {i: (min(e.start for e in by_sentence[i]), max(e.end for e in by_sentence[i])) for i in covered}
        text_order = {i: (float(r), float(r + 1)) for r, i in enumerate(covered)}
        for method, intervals in (("planner", pred), ("text order", text_order)):
            tau = kendalltau([intervals[i][0] for i in covered], [gold[i][0] for i in covered]).statistic
            if tau == tau:  # not NaN (NaN when one side is all ties)
                taus[method].append(tau)
            for x in range(len(covered)):
                for y in range(x + 1, len(covered)):
                    i, j = covered[x], covered[y]
                    stats[f"{method} pairs"] += 1
                    stats[f"{method} rel ok"] += relation(intervals[i], intervals[j]) == relation(gold[i], gold[j])
            # event level: pairs of events from different sentences whose gold starts differ
            evs = (
                [(e.start, i) for i in covered for e in by_sentence[i]]
                if method == "planner"
                else [(intervals[i][0], i) for i in covered for _ in by_sentence[i]]
            )
            for x in range(len(evs)):
                for y in range(x + 1, len(evs)):
                    (sa, ia), (sb, ib) = evs[x], evs[y]
                    if ia == ib or gold[ia][0] == gold[ib][0]:
                        continue
                    stats[f"{method} ev pairs"] += 1
                    stats[f"{method} ev ok"] += (sa < sb) == (gold[ia][0] < gold[ib][0]) and sa != sb
        stats["gold overlap pairs"] += sum(
            relation(gold[covered[x]], gold[covered[y]]) == "overlap"
            for x in range(len(covered))
            for y in range(x + 1, len(covered))
        )
    print(
        f"\n## {name}: {len(sample)} paragraphs (seed {seed}), {stats['sentences']} sentences, "
        f"{stats['events']} events planned in {elapsed:.1f} s"
    )
    print(f"coverage: {stats['covered'] / stats['sentences']:.3f} of sentences have >= 1 event")
    print(f"gold overlapping sentence pairs: {stats['gold overlap pairs'] / max(1, stats['planner pairs']):.3f}")
    print(f"{'method':12} {'sent. tau-b':>12} {'pair relation acc':>18} {'event order acc':>16}")
    for method in ("planner", "text order"):
        tau = statistics.mean(taus[method]) if taus[method] else float("nan")
        rel = stats[f"{method} rel ok"] / max(1, stats[f"{method} pairs"])
        ev = stats[f"{method} ev ok"] / max(1, stats[f"{method} ev pairs"])
        print(f"{method:12} {tau:12.3f} {rel:18.3f} {ev:16.3f}")


def procedural_world(n: int) -> None:
    """Captions of ``vdm.world`` (if installed) against the world's gold schedules, per difficulty level."""
    try:
        from vdm.world import World, WorldConfig
    except ImportError as exc:
        print(f"\n## procedural world: skipped ({exc})")
        return
    from dsg import align_schedule, event_order, planning_accuracy

    planner = RuleBasedPlanner(colour_in_label=True)  # the world names entities "red circle"
    print(f"\n## Procedural world captions ({n} scenes per level set, seeds 0..{n - 1}; colour_in_label=True)")
    print(f"{'levels':10} {'triplet':>8} {'predicate':>10} {'argument':>9} {'tau':>6} {'pairwise':>9}")
    for levels in ([1], [2], [3], [4], [5]):
        world = World(WorldConfig(height=32, width=32), difficulty=levels)
        acc: Counter[str] = Counter()
        for seed in range(n):
            sample = world.sample(seed=seed)
            pred = planner.schedule(sample.caption.text)
            # compare on the world's frame grid: dsg.match_events breaks ties between repeated triplets by
            # interval overlap, which pairs them the wrong way round across different grids
            if len(pred):
                pred = align_schedule(pred, sample.dsg.num_frames)
            a, o = planning_accuracy(pred, sample.schedule), event_order(pred, sample.schedule)
            acc["triplet"] += a.triplet
            acc["predicate"] += a.predicate
            acc["argument"] += a.argument
            acc["tau"] += o.kendall_tau
            acc["pairwise"] += o.pairwise_accuracy
        print(
            f"{','.join(map(str, levels)):10} {acc['triplet'] / n:8.3f} {acc['predicate'] / n:10.3f} "
            f"{acc['argument'] / n:9.3f} {acc['tau'] / n:6.3f} {acc['pairwise'] / n:9.3f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paragraphs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-scenes", type=int, default=40, help="procedural-world captions per difficulty level")
    args = ap.parse_args()
    planner = RuleBasedPlanner()
    labelled_set(planner)
    real_captions(
        planner, "ActivityNet Captions val_2", DATA / "activitynet_captions_val_2.json", args.paragraphs, args.seed
    )
    real_captions(planner, "YouCook2", DATA / "youcook2_val.json", args.paragraphs, args.seed)
    procedural_world(args.world_scenes)


if __name__ == "__main__":
    main()
