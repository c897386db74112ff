"""Metrics on DSGs and event schedules.

* TriRec, paper eq. (7): ``|G_PT ∩ G_GT| / |G_GT|``, the share of gold subject-predicate-object
  triplets found in the predicted (e.g. parsed-from-video) scene graphs. Eq. (7) does not say whether
  triplets are matched per frame or over the whole video; :func:`trirec` does both
  (``mode="frame"``: frame ``m`` against frame ``m``, micro-averaged over frames; ``mode="video"``: the
  sets of triplets of the whole DSGs).
* Triplet precision / recall / F1.
* Action-planning accuracy as in the paper's Fig. 9: whole triplet, predicate, arguments (agent and
  target), over a one-to-one matching of predicted to gold events.
* Event order: Kendall's tau and pairwise order accuracy over matched events; interval IoU.
* Scene statistics (Fig. 8): object-attribute and subject-predicate-object items per scene graph.

Labels are compared with :func:`~dsg.labels.label_key` (normalised, lemmatised when spaCy is there).
Every metric is defined on empty inputs: a ratio with an empty denominator is 1.0 when the numerator's
side is empty too (nothing to find, nothing missed) and 0.0 otherwise; documented per function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .dynamic import DynamicSceneGraph
from .errors import DSGValidationError
from .labels import label_key
from .schedule import Event, EventSchedule

__all__ = [
    "PRF",
    "EventOrder",
    "PlanningAccuracy",
    "SceneStatistics",
    "event_order",
    "interval_iou",
    "match_events",
    "planning_accuracy",
    "scene_statistics",
    "triplet_prf",
    "trirec",
    "trirec_per_frame",
]

Key = tuple[str, str, "str | None"]


def _ratio(num: float, den: float, empty: float = 1.0) -> float:
    return num / den if den else empty


def _keys(triplets: Iterable[tuple[str, str, str | None]]) -> set[Key]:
    return {(label_key(s), label_key(p), None if o is None else label_key(o)) for s, p, o in triplets}


def trirec_per_frame(pred: DynamicSceneGraph, gold: DynamicSceneGraph) -> list[float]:
    """TriRec (eq. 7) of every frame; a frame with no gold triplet scores 1.0. Needs equal frame counts
    (use :func:`~dsg.align` first)."""
    if pred.num_frames != gold.num_frames:
        raise DSGValidationError("pred.num_frames", pred.num_frames, f"gold has {gold.num_frames} frames; align first")
    out = []
    for m in range(gold.num_frames):
        g, p = gold.triplet_keys(m), pred.triplet_keys(m)
        out.append(_ratio(len(g & p), len(g)))
    return out


def trirec(pred: DynamicSceneGraph, gold: DynamicSceneGraph, *, mode: str = "frame") -> float:
    """TriRec (eq. 7) of a whole DSG.

    ``mode="frame"``: ``Σ_m |P_m ∩ G_m| / Σ_m |G_m|`` (frames aligned one to one);
    ``mode="video"``: ``|∪P ∩ ∪G| / |∪G|`` over the triplets of all frames. 1.0 when gold has none.
    """
    if mode == "video":
        g = set().union(*(gold.triplet_keys(m) for m in range(gold.num_frames)))
        p = set().union(*(pred.triplet_keys(m) for m in range(pred.num_frames)))
        return _ratio(len(g & p), len(g))
    if mode != "frame":
        raise DSGValidationError("mode", mode, "must be 'frame' or 'video'")
    if pred.num_frames != gold.num_frames:
        raise DSGValidationError("pred.num_frames", pred.num_frames, f"gold has {gold.num_frames} frames; align first")
    hit = tot = 0
    for m in range(gold.num_frames):
        g = gold.triplet_keys(m)
        hit += len(g & pred.triplet_keys(m))
        tot += len(g)
    return _ratio(hit, tot)


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def triplet_prf(pred: Iterable[tuple[str, str, str | None]], gold: Iterable[tuple[str, str, str | None]]) -> PRF:
    """Precision, recall, F1 of two triplet sets. Both empty: all 1.0; one empty: 0.0."""
    p, g = _keys(pred), _keys(gold)
    hit = len(p & g)
    prec = _ratio(hit, len(p), 1.0 if not g else 0.0)
    rec = _ratio(hit, len(g), 1.0 if not p else 0.0)
    f1 = _ratio(2 * prec * rec, prec + rec, 0.0)
    return PRF(prec, rec, f1)


def _event_keys(ev: Event, sched: EventSchedule) -> tuple[str, str, str | None]:
    table = {e.id: e.label for e in sched.entities}
    agent = label_key(table.get(ev.agent, ev.agent))
    target = None if ev.target is None else label_key(table.get(ev.target, ev.target))
    return agent, label_key(ev.predicate), target


def _occurrences(keys: list[tuple[str, str, str | None]]) -> list[int]:
    """For each event, how many earlier events (in schedule order) have the same triplet."""
    seen: dict[tuple[str, str, str | None], int] = {}
    out = []
    for k in keys:
        out.append(seen.get(k, 0))
        seen[k] = out[-1] + 1
    return out


def match_events(pred: EventSchedule, gold: EventSchedule) -> list[tuple[int, int]]:
    """One-to-one matching of predicted to gold events, ``[(pred_index, gold_index), ...]``.

    Greedy by decreasing score: 3 for the whole triplet, else 1 per matching part (agent, predicate,
    target). Ties are broken by the occurrence rank (the k-th "a jumps" of the prediction goes with the
    k-th "a jumps" of the gold, whatever the two time grids are), then by interval overlap, then by index.
    Pairs with score 0 are not matched.
    """
    pk = [_event_keys(e, pred) for e in pred.events]
    gk = [_event_keys(e, gold) for e in gold.events]
    po, go = _occurrences(pk), _occurrences(gk)
    cands = []
    for i, (pa, pp, pt) in enumerate(pk):
        for j, (ga, gp, gt) in enumerate(gk):
            score = 3 if (pa, pp, pt) == (ga, gp, gt) else (pa == ga) + (pp == gp) + (pt == gt)
            if score:
                cands.append((-score, abs(po[i] - go[j]), -_iou(pred.events[i], gold.events[j]), i, j))
    cands.sort()
    used_p, used_g, out = set(), set(), []
    for _, _, _, i, j in cands:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            out.append((i, j))
    return sorted(out)


@dataclass(frozen=True)
class PlanningAccuracy:
    """Fig. 9 accuracies over gold events (each in [0, 1]) and the number of gold events."""

    triplet: float
    predicate: float
    argument: float
    num_gold: int


def planning_accuracy(pred: EventSchedule, gold: EventSchedule) -> PlanningAccuracy:
    """Action-planning accuracy (paper Fig. 9), normalised by the larger of the two event counts so that
    spurious predicted events are penalised too. Both schedules empty: all 1.0.

    ``triplet``: matched pairs with the whole triplet right; ``predicate``: pairs with the predicate
    right; ``argument``: agent and target each count half.
    """
    den = max(len(pred), len(gold))
    if den == 0:
        return PlanningAccuracy(1.0, 1.0, 1.0, 0)
    trip = predi = arg = 0.0
    for i, j in match_events(pred, gold):
        pa, pp, pt = _event_keys(pred.events[i], pred)
        ga, gp, gt = _event_keys(gold.events[j], gold)
        trip += (pa, pp, pt) == (ga, gp, gt)
        predi += pp == gp
        arg += 0.5 * (pa == ga) + 0.5 * (pt == gt)
    return PlanningAccuracy(trip / den, predi / den, arg / den, len(gold))


@dataclass(frozen=True)
class EventOrder:
    """Order agreement over the matched events: Kendall's tau-b in [-1, 1], pairwise accuracy in [0, 1]."""

    kendall_tau: float
    pairwise_accuracy: float
    num_pairs: int


def event_order(pred: EventSchedule, gold: EventSchedule) -> EventOrder:
    """Compare the start order of matched events.

    A pair is concordant when both schedules order the two starts the same way (ties included: both
    equal counts as agreement). Fewer than two matched events: tau 1.0 and accuracy 1.0 when the
    schedules have at most one event, else 0.0 (nothing could be checked).
    """
    pairs = match_events(pred, gold)
    n = len(pairs)
    if n < 2:
        ok = 1.0 if max(len(pred), len(gold)) <= 1 and n == min(len(pred), len(gold)) else 0.0
        return EventOrder(ok, ok, 0)
    conc = disc = agree = 0
    tie_p = tie_g = 0
    total = n * (n - 1) // 2
    for a in range(n):
        for b in range(a + 1, n):
            dp = _sign(pred.events[pairs[a][0]].start - pred.events[pairs[b][0]].start)
            dg = _sign(gold.events[pairs[a][1]].start - gold.events[pairs[b][1]].start)
            agree += dp == dg
            if dp == 0:
                tie_p += 1
            if dg == 0:
                tie_g += 1
            if dp and dg:
                conc += dp == dg
                disc += dp != dg
    den = ((total - tie_p) * (total - tie_g)) ** 0.5
    tau = (conc - disc) / den if den else (1.0 if agree == total else 0.0)
    # the number of pairs the matching could not cover also counts against the accuracy
    missing = max(len(pred), len(gold)) - n
    all_pairs = total + missing * n + missing * (missing - 1) // 2
    return EventOrder(max(-1.0, min(1.0, tau)), agree / all_pairs, total)


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _iou(a: Event, b: Event) -> float:
    inter = max(0, min(a.end, b.end) - max(a.start, b.start))
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if union else 0.0


def interval_iou(pred: EventSchedule, gold: EventSchedule) -> float:
    """Mean temporal IoU of matched events, unmatched gold or predicted events counting 0.
    Both empty: 1.0. Compare schedules on the same grid (see :func:`~dsg.align_schedule`)."""
    den = max(len(pred), len(gold))
    if den == 0:
        return 1.0
    return sum(_iou(pred.events[i], gold.events[j]) for i, j in match_events(pred, gold)) / den


@dataclass(frozen=True)
class SceneStatistics:
    """Fig. 8: mean number of object-attribute pairs and of triplets per scene graph."""

    object_attribute: float
    triplets: float
    num_frames: int


def scene_statistics(dsg: DynamicSceneGraph, *, per: str = "frame") -> SceneStatistics:
    """Mean items per scene graph, over frames (``per="frame"``) or over distinct segments
    (``per="segment"``). Static entity attributes count for every frame the entity is in.
    An empty DSG gives zeros."""
    if per == "segment":
        idx = [seg.start for seg in dsg.segments()]
    elif per == "frame":
        idx = list(range(dsg.num_frames))
    else:
        raise DSGValidationError("per", per, "must be 'frame' or 'segment'")
    if not idx:
        return SceneStatistics(0.0, 0.0, 0)
    oa = sum(len(dsg.object_attributes(m)) for m in idx) / len(idx)
    tr = sum(len(dsg.triplets(m)) for m in idx) / len(idx)
    return SceneStatistics(oa, tr, len(idx))
