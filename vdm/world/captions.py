"""Captions: varied natural English for a scene's events.

A caption mentions every event once. The events are grouped into *beats* (maximal groups of events that
overlap in time); a beat is one clause, or several joined by *while*, *as*, *meanwhile*; consecutive
beats are joined by temporal connectives (*then*, *after that*, *next*, *finally*, *until*) or, with
probability ``Difficulty.reorder``, told out of physical order (*Before B, A.* / *B after A.*).

What varies with :class:`~vdm.world.config.Difficulty`:

* ``synonyms``: verbs ("slides to the left", "hops", "vanishes") and nouns ("ball", "box", "big");
* ``referring``: referring expressions that pick the entity out among the others, chosen among the
  unique ones ("the small red one", "the circle" when there is one circle, "the red shape");
* ``pronouns``: "it" for the subject of the previous clause, and subjectless "..., and then jumps";
* ``detail``: ``"medium"`` introduces the cast ("There is a small red circle and a big blue square."),
  ``"long"`` also says where things are at the start, from the gold first frame.

Entities are described by the properties they have when first seen (the colour that names them, the
initial size), also after they change colour or size. At easy levels (:attr:`Difficulty.is_easy`) the
caption uses only canonical forms: "The red circle moves left, then the blue square touches the green
triangle." (the form a rule-based planner parses back).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from dsg import Event, SceneGraph

from .config import Difficulty
from .scene import EntitySpec, Scene
from .vocabulary import colour_of_turn, is_turn

__all__ = ["Caption", "canonical_clause", "caption_scene"]

_SHAPE_NOUNS = {
    "circle": ("circle", "ball", "disc", "dot"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
}
_SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}

#: Canonical verb phrase of each predicate ("{t}" = the target noun phrase); the first form is canonical.
_VERBS: dict[str, tuple[str, ...]] = {
    "move left": ("moves left", "moves to the left", "slides left", "slides to the left", "goes left", "drifts left"),
    "move right": (
        "moves right",
        "moves to the right",
        "slides right",
        "slides to the right",
        "goes right",
        "drifts right",
    ),
    "move up": ("moves up", "moves upward", "slides up", "goes up", "rises", "drifts up"),
    "move down": ("moves down", "moves downward", "slides down", "goes down", "sinks", "drifts down"),
    "jump": ("jumps", "hops", "leaps", "bounces"),
    "grow": ("grows", "gets bigger", "expands", "grows larger"),
    "shrink": ("shrinks", "gets smaller", "contracts", "shrinks down"),
    "rotate": ("rotates", "spins", "turns around", "twirls"),
    "appear": ("appears", "shows up", "fades in", "pops up"),
    "disappear": ("disappears", "vanishes", "fades out", "fades away"),
    "approach": ("approaches {t}", "moves toward {t}", "heads toward {t}", "comes closer to {t}", "goes toward {t}"),
    "touch": ("touches {t}", "bumps into {t}", "runs into {t}", "reaches {t}"),
    "turn": ("turns {c}", "becomes {c}", "changes colour to {c}", "changes to {c}", "switches to {c}"),
}
_SEQ = (", then ", ". Then ", ". After that, ", ". Next, ", ", and then ", ". Afterwards, ")


@dataclass(frozen=True)
class Caption:
    """A caption and the order in which it mentions the scene's events (indices into ``scene.events``)."""

    text: str
    mention_order: tuple[int, ...]

    def __str__(self) -> str:
        return self.text


def _verb_forms(predicate: str) -> tuple[str, ...]:
    return _VERBS["turn"] if is_turn(predicate) else _VERBS[predicate]


def canonical_clause(event: Event, scene: Scene) -> str:
    """The canonical clause of an event: ``"the red circle approaches the blue square"``."""
    verb = _verb_forms(event.predicate)[0]
    target = f"the {scene.entities[scene.index(event.target)].id}" if event.target else ""
    colour = colour_of_turn(event.predicate) if is_turn(event.predicate) else ""
    return f"the {event.agent} {verb.format(t=target, c=colour)}"


class _Writer:
    def __init__(self, scene: Scene, rng: np.random.Generator, diff: Difficulty) -> None:
        self.scene, self.rng, self.diff = scene, rng, diff
        self.specs = scene.entities
        self.last_subject: str | None = None

    def pick(self, options: tuple[str, ...] | list[str], vary: bool) -> str:
        return options[int(self.rng.integers(len(options)))] if vary else options[0]

    # -- noun phrases ------------------------------------------------------------------------------
    def descriptions(self, spec: EntitySpec) -> list[str]:
        """Noun phrases (no article) that pick out ``spec`` among the scene's entities."""
        shapes = Counter(s.shape for s in self.specs)
        sizes = Counter(s.size for s in self.specs)
        size_shape = Counter((s.size, s.shape) for s in self.specs)
        syn = self.diff.synonyms
        noun = self.pick(_SHAPE_NOUNS[spec.shape], syn)
        size = self.pick(_SIZE_WORDS[spec.size], syn)
        out = [f"{spec.colour} {noun}", f"{size} {spec.colour} {noun}", f"{spec.colour} one", f"{spec.colour} shape"]
        out.append(f"{size} {spec.colour} one")
        if shapes[spec.shape] == 1:
            out.append(noun)
        if size_shape[(spec.size, spec.shape)] == 1 and shapes[spec.shape] > 1:
            out.append(f"{size} {noun}")
        if sizes[spec.size] == 1 and len(self.specs) > 1:
            out.append(f"{size} one")
        return out

    def np(self, ident: str, *, subject: bool) -> str:
        spec = self.specs[self.scene.index(ident)]
        if subject and self.diff.pronouns and self.last_subject == ident and self.rng.random() < 0.7:
            return "it"
        if not self.diff.referring:
            return f"the {spec.colour} {spec.shape}"
        return "the " + self.pick(self.descriptions(spec), True)

    # -- clauses -----------------------------------------------------------------------------------
    def clause(self, ev: Event) -> str:
        syn = self.diff.synonyms
        subject = self.np(ev.agent, subject=True)
        verb = self.pick(_verb_forms(ev.predicate), syn)
        target = self.np(ev.target, subject=False) if ev.target else ""
        colour = colour_of_turn(ev.predicate) if is_turn(ev.predicate) else ""
        vp = verb.format(t=target, c=colour)
        self.last_subject = ev.agent
        return f"{subject} {vp}"

    def beat(self, events: list[Event], order: list[int]) -> str:
        """One beat: a clause, or concurrent clauses joined by while / as / meanwhile."""
        idx = list(range(len(events)))
        if len(events) > 1 and self.diff.connectives == "varied":
            self.rng.shuffle(idx)
        order.extend(int(self.scene.events.index(events[i])) for i in idx)
        clauses = [self.clause(events[i]) for i in idx]
        if len(clauses) == 1:
            return clauses[0]
        rest = clauses[1] if len(clauses) == 2 else ", ".join(clauses[1:-1]) + " and " + clauses[-1]
        if self.diff.connectives == "plain":
            return f"{clauses[0]} while {rest}"
        form = int(self.rng.integers(5))
        if form == 0:
            return f"{clauses[0]} while {rest}"
        if form == 1:
            return f"while {clauses[0]}, {rest}"
        if form == 2:
            return f"{clauses[0]}. Meanwhile, {rest}"
        if form == 3:
            return f"{clauses[0]} as {rest}"
        return f"{clauses[0]} and, at the same time, {rest}"

    # -- whole caption -----------------------------------------------------------------------------
    def story(self) -> tuple[str, tuple[int, ...]]:
        beats = _beats(self.scene.events)
        order: list[int] = []
        parts: list[str] = []
        i = 0
        varied = self.diff.connectives == "varied"
        while i < len(beats):
            nxt = beats[i + 1] if i + 1 < len(beats) else None
            single_pair = nxt is not None and len(beats[i]) == 1 and len(nxt) == 1
            if single_pair and self.rng.random() < self.diff.reorder:
                a, b = beats[i][0], nxt[0]  # type: ignore[index]
                form = int(self.rng.integers(3))
                if form == 0:  # Before B, A.
                    cb = self.clause(b)
                    ca = self.clause(a)
                    parts.append(f"before {cb}, {ca}")
                    order += [self.scene.events.index(b), self.scene.events.index(a)]
                elif form == 1:  # B after A.
                    cb = self.clause(b)
                    ca = self.clause(a)
                    parts.append(f"{cb} after {ca}")
                    order += [self.scene.events.index(b), self.scene.events.index(a)]
                else:  # After A, B.
                    ca = self.clause(a)
                    cb = self.clause(b)
                    parts.append(f"after {ca}, {cb}")
                    order += [self.scene.events.index(a), self.scene.events.index(b)]
                i += 2
                continue
            until = (
                varied
                and single_pair
                and beats[i][0].end == nxt[0].start  # type: ignore[index]
                and beats[i][0].agent != nxt[0].agent  # type: ignore[index]
                and self.rng.random() < 0.3
            )
            if until:
                a, b = beats[i][0], nxt[0]  # type: ignore[index]
                ca = self.clause(a)
                cb = self.clause(b)
                parts.append(f"{ca} until {cb}")
                order += [self.scene.events.index(a), self.scene.events.index(b)]
                i += 2
                continue
            parts.append(self.beat(beats[i], order))
            i += 1
        return self.join(parts), tuple(order)

    def join(self, parts: list[str]) -> str:
        if not parts:
            return ""
        text = parts[0]
        for k, part in enumerate(parts[1:], start=1):
            if self.diff.connectives == "plain":
                sep = ", then "
            elif k == len(parts) - 1 and len(parts) > 2 and self.rng.random() < 0.5:
                sep = ". Finally, "
            else:
                sep = self.pick(_SEQ, True)
            if (
                part.startswith("it ")
                and self.diff.pronouns
                and sep in (", then ", ", and then ")
                and self.rng.random() < 0.5
            ):
                part = part[3:]  # subjectless conjunct: "the red circle moves left, and then jumps"
            text += sep + part
        return _sentences(text)

    def intro(self, first_frame: SceneGraph | None) -> str:
        visible = [s for s in self.specs if first_frame is None or s.id in first_frame.objects]
        visible = [
            s for s in visible if not any(e.agent == s.id and e.predicate == "appear" for e in self.scene.events)
        ]
        if not visible:
            return ""
        syn = self.diff.synonyms
        nps = []
        for s in visible:
            words = f"{self.pick(_SIZE_WORDS[s.size], syn)} {s.colour} {self.pick(_SHAPE_NOUNS[s.shape], syn)}"
            nps.append(("an " if words[0] in "aeiou" else "a ") + words)
        listed = nps[0] if len(nps) == 1 else ", ".join(nps[:-1]) + " and " + nps[-1]
        out = f"There is {listed}."
        if self.diff.detail == "long" and first_frame is not None:
            facts = [
                r
                for r in first_frame.relations
                if r.object is not None and r.predicate in ("left of", "above", "touching")
            ]
            if facts:
                r = facts[int(self.rng.integers(len(facts)))]
                pred = {"left of": "is to the left of", "above": "is above", "touching": "is touching"}[r.predicate]
                sub = self.specs[self.scene.index(r.subject)]
                obj = self.specs[self.scene.index(r.object)]  # type: ignore[arg-type]
                out += f" The {sub.colour} {sub.shape} {pred} the {obj.colour} {obj.shape}."
        return out


def _beats(events: tuple[Event, ...]) -> list[list[Event]]:
    """Maximal groups of events that overlap in time, in physical order."""
    out: list[list[Event]] = []
    end = -1
    for ev in events:
        if out and ev.start < end:
            out[-1].append(ev)
            end = max(end, ev.end)
        else:
            out.append([ev])
            end = ev.end
    return out


def _sentences(text: str) -> str:
    """Capitalise sentence starts and end with a full stop."""
    sents = [s.strip() for s in text.split(". ")]
    return ". ".join(s[:1].upper() + s[1:] for s in sents if s).rstrip(".") + "."


def caption_scene(
    scene: Scene,
    rng: np.random.Generator | int,
    difficulty: Difficulty | None = None,
    *,
    first_frame: SceneGraph | None = None,
) -> Caption:
    """Write a caption for ``scene`` with the language knobs of ``difficulty`` (default: the scene's).

    Args:
        rng: a generator or a seed; the same scene and seed give the same caption.
        first_frame: the gold scene graph of frame 0, for the cast and layout of medium/long captions.
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    diff = difficulty or scene.difficulty
    writer = _Writer(scene, rng, diff)
    story, order = writer.story()
    if diff.detail == "short":
        return Caption(story, order)
    intro = writer.intro(first_frame)
    return Caption(f"{intro} {story}".strip(), order)
