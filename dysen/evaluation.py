"""Planner evaluation: the shipped labelled caption set, Fig. 9 accuracies and event order.

The labelled set (``dysen/data/planner_gold.jsonl``) holds hand-written gold event schedules for captions
that exercise the phenomena the rule-based planner handles (temporal connectives, coordination,
pronouns, passives, phrasal and prepositional verbs, multi-word nouns) plus captions in the style of the
procedural world. One JSON object per line::

    {"id": "world-01", "split": "dev", "caption": "The small red circle moves left, then the blue square jumps.",
     "events": [["circle", "move left", null, 0, 1], ["square", "jump", null, 1, 2]],
     "entities": [{"id": "circle", "attributes": ["red", "small"]}, {"id": "square", "attributes": ["blue"]}],
     "phenomena": ["world", "then"]}

``split`` is ``"dev"`` for captions the rule-based planner was developed against and ``"test"`` for a held-out
part written before the planner was run on it. Events are ``[agent, predicate, target, start, end]`` on the
grid of *v* with entity ids; ``entities`` is optional (an id's label is the id without its ``#suffix``).
Predicates are verb lemmas with particles and, when the verb has no direct object, the preposition of its
target (``sit on``, ``get out of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import Any

from dsg import Entity, Event, EventSchedule, Planner, event_order, label_key, match_events, planning_accuracy

from .demos import jsonl_rows
from .errors import DemonstrationError

__all__ = [
    "GoldCaption",
    "ParagraphReport",
    "PlannerReport",
    "evaluate_paragraphs",
    "evaluate_planner",
    "load_planner_gold",
    "pair_relations",
    "relation",
]


@dataclass(frozen=True)
class GoldCaption:
    """One labelled caption."""

    id: str
    caption: str
    schedule: EventSchedule
    phenomena: tuple[str, ...] = ()
    split: str = "dev"


def _gold_from_dict(row: Any, where: str) -> GoldCaption:
    if not isinstance(row, dict) or not isinstance(row.get("caption"), str) or not isinstance(row.get("events"), list):
        raise DemonstrationError(f"{where}: expected an object with 'caption' (str) and 'events' (list)")
    try:
        events = tuple(Event(*ev) for ev in row["events"])
        ents = tuple(
            Entity(e["id"], e.get("label", ""), tuple(e.get("attributes", ()))) for e in row.get("entities", ())
        )
        sched = EventSchedule(events, "v", ents)
    except (TypeError, ValueError, KeyError) as exc:
        raise DemonstrationError(f"{where}: {exc}") from exc
    return GoldCaption(
        str(row.get("id", where)), row["caption"], sched, tuple(row.get("phenomena", ())), str(row.get("split", "dev"))
    )


def load_planner_gold(path: str | Path | None = None, *, split: str | None = None) -> list[GoldCaption]:
    """The labelled captions at ``path`` (default: the set shipped in the package).

    ``split``: ``"dev"`` (the captions the rule-based planner was developed on), ``"test"`` (captions
    written afterwards and never tuned on) or ``None`` for both.
    """
    if path is None:
        text = resources.files("dysen").joinpath("data/planner_gold.jsonl").read_text(encoding="utf-8")
        name = "dysen/data/planner_gold.jsonl"
    else:
        text, name = Path(path).read_text(encoding="utf-8"), str(path)
    out = []
    for where, row in jsonl_rows(text, name):
        item = _gold_from_dict(row, where)
        if split is None or item.split == split:
            out.append(item)
    return out


@dataclass
class PlannerReport:
    """Means over captions of the Fig. 9 accuracies, event order and attribute recall, plus per-caption rows."""

    triplet: float
    predicate: float
    argument: float
    kendall_tau: float
    pairwise_order: float
    attribute_recall: float
    exact: float
    num_captions: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    relation: float = 1.0
    """Mean share of matched event pairs whose before/overlap/after relation is the gold one."""
    ordered_pairwise: float = 1.0
    """Mean start-order accuracy over matched pairs that do not overlap in the gold (the pairs a text can
    order; a tie counts as wrong)."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "rows"}


def _attribute_pairs(sched: EventSchedule) -> set[tuple[str, str]]:
    return {(label_key(e.label), label_key(a)) for e in sched.entities for a in e.attributes}


def relation(a: tuple[float, float], b: tuple[float, float]) -> str:
    """``"before"``, ``"after"`` or ``"overlap"`` of interval ``a`` with respect to ``b`` (``(start, end)``)."""
    return "before" if a[1] <= b[0] else "after" if b[1] <= a[0] else "overlap"


def pair_relations(pred: EventSchedule, gold: EventSchedule) -> tuple[float, float]:
    """(relation accuracy, ordered-pair accuracy) of the matched events of two schedules on one grid: the
    share of matched pairs with the gold before/overlap/after relation, and the share of the gold's
    non-overlapping matched pairs whose predicted starts are ordered as the gold's (ties wrong). Fewer than
    two matched events: ``(1.0, 1.0)``."""
    pairs = match_events(pred, gold)
    rel_ok = total = ord_ok = ordered = 0
    for x in range(len(pairs)):
        for y in range(x + 1, len(pairs)):
            pa, pb = pred.events[pairs[x][0]], pred.events[pairs[y][0]]
            ga, gb = gold.events[pairs[x][1]], gold.events[pairs[y][1]]
            g_rel = relation((ga.start, ga.end), (gb.start, gb.end))
            total += 1
            rel_ok += relation((pa.start, pa.end), (pb.start, pb.end)) == g_rel
            if g_rel != "overlap":
                ordered += 1
                ord_ok += (pa.start < pb.start) == (ga.start < gb.start) and pa.start != pb.start
    return (rel_ok / total if total else 1.0), (ord_ok / ordered if ordered else 1.0)


def evaluate_planner(planner: Planner, gold: Sequence[GoldCaption] | Iterable[GoldCaption]) -> PlannerReport:
    """Run ``planner.schedule`` on every gold caption and compare.

    ``exact`` is the share of captions whose predicted events equal the gold ones as label-level triplets
    with identical intervals. ``attribute_recall`` is the share of gold (entity label, attribute) pairs found.
    """
    rows = []
    for item in gold:
        pred = planner.schedule(item.caption)
        acc = planning_accuracy(pred, item.schedule)
        order = event_order(pred, item.schedule)
        rel, ordered = pair_relations(pred, item.schedule)
        gold_attr = _attribute_pairs(item.schedule)
        attr = len(gold_attr & _attribute_pairs(pred)) / len(gold_attr) if gold_attr else 1.0

        def keys(s: EventSchedule) -> list[tuple]:
            lab = {e.id: e.label for e in s.entities}
            return sorted(
                (
                    label_key(lab.get(e.agent, e.agent)),
                    label_key(e.predicate),
                    e.target and label_key(lab[e.target]),
                    e.start,
                    e.end,
                )
                for e in s.events
            )

        rows.append(
            {
                "id": item.id,
                "caption": item.caption,
                "triplet": acc.triplet,
                "predicate": acc.predicate,
                "argument": acc.argument,
                "kendall_tau": order.kendall_tau,
                "pairwise_order": order.pairwise_accuracy,
                "relation": rel,
                "ordered_pairwise": ordered,
                "attribute_recall": attr,
                "exact": keys(pred) == keys(item.schedule),
                "predicted": [[e.agent, e.predicate, e.target, e.start, e.end] for e in pred.events],
                "gold": [[e.agent, e.predicate, e.target, e.start, e.end] for e in item.schedule.events],
            }
        )
    n = len(rows)

    def mean(key: str) -> float:
        return sum(float(r[key]) for r in rows) / n if n else 0.0

    return PlannerReport(
        mean("triplet"),
        mean("predicate"),
        mean("argument"),
        mean("kendall_tau"),
        mean("pairwise_order"),
        mean("attribute_recall"),
        mean("exact"),
        n,
        rows,
        mean("relation") if n else 1.0,
        mean("ordered_pairwise") if n else 1.0,
    )


@dataclass
class ParagraphReport:
    """Real paragraphs with sentence timestamps (one gold event per sentence), see :func:`evaluate_paragraphs`."""

    paragraphs: int
    sentences: int
    coverage: float
    """Share of sentences with at least one planned event (recall of the gold events)."""
    predicate_recall: float
    """Share of sentences whose main verb (the root, through light verbs) is the head of a planned event of
    that sentence (a silver predicate: the parse's own root)."""
    relation: float
    """Before/overlap/after accuracy over pairs of covered sentences (a sentence's interval: its events' span)."""
    overlap_recall: float
    """Share of the gold-overlapping sentence pairs planned as overlapping (the concurrency accuracy)."""
    overlap_precision: float
    """Share of the pairs planned as overlapping that overlap in the gold (NaN when none is planned so)."""
    event_order: float
    """Start-order accuracy of event pairs from different sentences with different gold starts (ties wrong)."""
    text_order_relation: float
    """``relation`` of the text-order baseline (sentence k at step k, no overlap) on the same pairs."""
    gold_overlap_share: float


def _main_verb(sent: Any) -> str | None:
    from .rule_based import lexicon as lx

    root = sent.root
    while root.lemma_.lower() in lx.LIGHT_VERBS:
        nxt = next(
            (c for c in root.children if c.pos_ == "VERB" and c.dep_ in ("xcomp", "ccomp") and c.i > root.i), None
        )
        if nxt is None:
            break
        root = nxt
    return root.lemma_.lower() if root.pos_ == "VERB" else None


def evaluate_paragraphs(
    planner: Any, paragraphs: Sequence[tuple[Sequence[str], Sequence[tuple[float, float]]]], *, punctuate: bool = False
) -> ParagraphReport:
    """Plan each paragraph (its sentences joined) with ``planner`` (a :class:`~dysen.RuleBasedPlanner`:
    events are traced to sentences by character offset) and compare sentence intervals with the gold
    ``(start, end)`` of each sentence. ``punctuate`` adds a full stop to sentences without one (recipes)."""
    texts, spans = [], []
    for sentences, _ in paragraphs:
        clean = [" ".join(x.split()) for x in sentences]
        clean = [x + "." if punctuate and x and x[-1] not in ".!?" else x for x in clean]
        ends = list(accumulate(len(x) + 1 for x in clean))  # one space after each sentence
        spans.append([(end - len(x) - 1, end - 1) for x, end in zip(clean, ends)])
        texts.append(" ".join(clean))
    c: dict[str, int] = dict.fromkeys(
        (
            "sentences",
            "covered",
            "verbs",
            "verb_ok",
            "pairs",
            "rel",
            "base",
            "gold_ov",
            "pred_ov",
            "both_ov",
            "ev_pairs",
            "ev_ok",
        ),
        0,
    )
    all_sents = [s for sentences, _ in paragraphs for s in sentences]
    roots = [_main_verb(d[:]) for d in planner.nlp.pipe([" ".join(s.split()) for s in all_sents], batch_size=256)]
    k = 0
    for (sentences, gold), sp, an in zip(paragraphs, spans, planner.analyse_many(texts)):
        by_sentence: dict[int, list[Any]] = {}
        for ev in an.events:
            idx = next((i for i, (a, b) in enumerate(sp) if a <= ev.char < b), None)
            if idx is not None:
                by_sentence.setdefault(idx, []).append(ev)
        for i in range(len(sentences)):
            root = roots[k + i]
            if root is not None:
                c["verbs"] += 1
                c["verb_ok"] += any(ev.head == root for ev in by_sentence.get(i, ()))
        k += len(sentences)
        c["sentences"] += len(sentences)
        c["covered"] += len(by_sentence)
        cov = sorted(by_sentence)
        pred = {i: (min(e.start for e in by_sentence[i]), max(e.end for e in by_sentence[i])) for i in cov}
        base = {i: (r, r + 1) for r, i in enumerate(cov)}
        for x, i in enumerate(cov):
            for j in cov[x + 1 :]:
                g = relation(tuple(gold[i]), tuple(gold[j]))  # type: ignore[arg-type]
                p = relation(pred[i], pred[j])
                c["pairs"] += 1
                c["rel"] += p == g
                c["base"] += relation(base[i], base[j]) == g
                c["gold_ov"] += g == "overlap"
                c["pred_ov"] += p == "overlap"
                c["both_ov"] += g == p == "overlap"
                for ea in by_sentence[i]:
                    for eb in by_sentence[j]:
                        if gold[i][0] == gold[j][0]:
                            continue
                        c["ev_pairs"] += 1
                        c["ev_ok"] += (ea.start < eb.start) == (gold[i][0] < gold[j][0]) and ea.start != eb.start

    def ratio(a: str, b: str) -> float:
        return c[a] / c[b] if c[b] else 1.0

    return ParagraphReport(
        len(paragraphs),
        c["sentences"],
        ratio("covered", "sentences"),
        ratio("verb_ok", "verbs"),
        ratio("rel", "pairs"),
        ratio("both_ov", "gold_ov"),
        ratio("both_ov", "pred_ov") if c["pred_ov"] else float("nan"),
        ratio("ev_ok", "ev_pairs"),
        ratio("base", "pairs"),
        ratio("gold_ov", "pairs"),
    )
