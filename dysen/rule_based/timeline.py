"""Temporal connectives -> event intervals on the grid of *v* (the time part of paper §4.1, Step I).

Each verb's clause carries the connective found before it (``then``, ``while``, ``before``, ...). Within a
sentence the clauses are put in *physical* order and linked to the previous one:

* no connective, ``and``, a comma, ``then``, ``after that``, ``next``, ``finally``, ``first``: **after** every
  event placed so far (one step of *v* each);
* ``while``, ``as``, ``meanwhile``, ``at the same time``: **concurrent** with the clause it is attached to
  (same interval); fronted (``"While A, B"``) the main clause B is concurrent with A; a clause joined to a
  concurrent one by a plain ``and`` is concurrent too (``"A while B and C"``);
* ``before``, ``until``: ``"A before B"`` keeps A first; fronted (``"Before B, A"``) A moves first;
* ``after``, ``when``, ``once``: ``"A after B"`` puts B first; fronted (``"After B, A"``) keeps B first.

Events of one verb with coordinated subjects or objects share an interval. A background state
(``sit``, ``stand``, ``hold``, ``wear``, ...) followed by plainly coordinated actions of the same sentence
lasts until the last of them (the paper's Fig. 3: *sitting on chair* spans *drinking coffee*).
"""

from __future__ import annotations

import enum
from itertools import groupby

from . import lexicon as lx
from .extract import ExtractedEvent

__all__ = ["Link", "assign_times"]


class Link(enum.Enum):
    """How a clause is placed relative to the clause before it in physical order."""

    AFTER = "after"
    CONCURRENT = "concurrent"


Group = list[ExtractedEvent]


def _physical_order(groups: list[Group]) -> list[tuple[Group, Link, bool]]:
    """Clauses of one sentence in physical order: ``(clause, link to the previous one, explicit)``."""
    out: list[tuple[Group, Link, bool]] = []
    k = 0
    n = len(groups)
    while k < n:
        g = groups[k]
        kind, sub = g[0].connective_kind, g[0].subordinate
        if (k == 0 or g[0].fronted) and sub and k + 1 < n and groups[k + 1][0].connective_kind is None:
            main = groups[k + 1]
            if kind == "conc":  # While A, B
                out += [(g, Link.AFTER, False), (main, Link.CONCURRENT, True)]
            elif kind == "precedes":  # Before A, B  -> B, A
                out += [(main, Link.AFTER, False), (g, Link.AFTER, True)]
            else:  # After A, B -> A, B
                out += [(g, Link.AFTER, False), (main, Link.AFTER, True)]
            k += 2
            continue
        if kind == "conc":
            out.append((g, Link.CONCURRENT if (out or not sub) else Link.AFTER, True))
        elif kind is None and g[0].joined and out and out[-1][1] is Link.CONCURRENT:
            out.append((g, Link.CONCURRENT, True))  # "A while B and C": C happens while A too
        elif kind == "follows" and out:  # A after B -> B, A
            prev, _, _ = out.pop()
            out += [(g, Link.AFTER, True), (prev, Link.AFTER, True)]
        else:
            out.append((g, Link.AFTER, kind is not None))
        k += 1
    return out


def assign_times(events: list[ExtractedEvent]) -> list[ExtractedEvent]:
    """Fill ``start``/``end`` of every event (in place) and return them in physical order."""
    ordered: list[tuple[Group, Link, bool, int]] = []
    for s_idx, sent_events in groupby(events, key=lambda e: e.sentence):
        groups = [list(g) for _, g in groupby(sent_events, key=lambda e: e.group)]
        ordered += [(g, link, explicit, s_idx) for g, link, explicit in _physical_order(groups)]
    frontier = 0
    prev: Group | None = None
    for k, (g, link, _, _) in enumerate(ordered):
        if link is Link.CONCURRENT and prev is not None:
            start, end = prev[0].start, prev[0].end
        elif link is Link.CONCURRENT and k == 0:
            start, end = 0, 1
        else:
            start, end = frontier, frontier + 1
        for ev in g:
            ev.start, ev.end = start, end
        frontier = max(frontier, end)
        prev = g
    # background states last while the plainly coordinated actions after them in the sentence happen
    for k, (g, _, _, s_idx) in enumerate(ordered):
        if g[0].head not in lx.STATIVE_VERBS:
            continue
        end = g[0].end
        for g2, link2, explicit2, s2 in ordered[k + 1 :]:
            if s2 != s_idx or (explicit2 and link2 is Link.AFTER):
                break
            end = max(end, g2[0].end)
        for ev in g:
            ev.end = end
    return [ev for g, _, _, _ in ordered for ev in g]
