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
from pathlib import Path
from typing import Any

from dsg import Entity, Event, EventSchedule, Planner, event_order, label_key, planning_accuracy

from .demos import jsonl_rows
from .errors import DemonstrationError

__all__ = ["GoldCaption", "PlannerReport", "evaluate_planner", "load_planner_gold"]


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

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "rows"}


def _attribute_pairs(sched: EventSchedule) -> set[tuple[str, str]]:
    return {(label_key(e.label), label_key(a)) for e in sched.entities for a in e.attributes}


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
    )
