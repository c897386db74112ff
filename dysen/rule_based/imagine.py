"""Rule-based scene imagination (an offline stand-in for paper §4.1, Step III).

Starting from the Step II skeleton (one triplet per active event), every frame gets:

* **static facts** from noun-attached prepositional phrases (``"a man in a red shirt"`` -> ``man in shirt``)
  in every frame, so that they are consistent across the video;
* **during facts** from the verb's other prepositional phrases (``"walks on the road with his dog"`` ->
  ``man with dog``) while the event happens;
* **result states** of placement verbs (``"puts a bottle in the bag"`` -> ``bottle in bag``) from the
  event's last frame until the object is moved again;
* **motion chains** (the paper's example: *sitting* = approaching -> near to -> sitting): an event whose
  verb moves the agent towards a target is broken down over its frames into ``approach`` -> ``near`` ->
  ``at`` (``in`` for *enter*), a contact verb (*touch*, *sit on*, *pick up*) into ``approach`` -> ``near``
  -> the action itself; afterwards the agent stays ``near``/``at`` the target until its next action. An
  event shorter than its chain shows the chain's last stages (one step: only the action); an agent
  already at its target skips the approach. Pass ``substeps`` to the planner to give every step of *v*
  several frames and see the whole chain.

Attributes from adjectives are static entity attributes (:class:`dsg.Entity`), present in every frame.
"""

from __future__ import annotations

from collections import defaultdict

from dsg import DynamicSceneGraph, Entity, Relation, SceneGraph

from . import lexicon as lx
from .extract import ExtractedEvent, SceneFact

__all__ = ["chain_of", "imagine"]

_TOWARDS = frozenset(["to", "toward", "towards", "into", "onto", "at", "in", "on", "up"])


def chain_of(event: ExtractedEvent) -> tuple[str | None, ...]:
    """The motion chain of an event: stage relations in order, ``None`` meaning the action itself."""
    if event.target is None:
        return ()
    words = event.predicate.split()
    if event.head == "approach":
        return ("approach", "near")
    if event.head == "enter":
        return ("approach", "near", "in")
    if event.head in lx.MOTION_TO_VERBS and ((len(words) > 1 and words[-1] in _TOWARDS) or event.head in ("reach",)):
        return ("approach", "near", "at")
    if event.head in lx.CONTACT_VERBS:
        return ("approach", "near", None)
    return ()


def imagine(
    skeleton: DynamicSceneGraph,
    events: list[ExtractedEvent],
    facts: list[SceneFact],
    entities: tuple[Entity, ...],
) -> DynamicSceneGraph:
    """Enrich ``skeleton`` (Step II output on the same grid as ``events``) with the rules above."""
    num = skeleton.num_frames
    extra: list[set[Relation]] = [set() for _ in range(num)]

    def add(rel: Relation, lo: int, hi: int) -> None:
        for m in range(max(0, lo), min(num, hi)):
            extra[m].add(rel)

    by_agent: dict[str, list[ExtractedEvent]] = defaultdict(list)
    for ev in sorted(events, key=lambda e: (e.start, e.end)):
        by_agent[ev.agent].append(ev)

    def next_action_start(ev: ExtractedEvent) -> int:
        later = [e.start for e in by_agent[ev.agent] if e.start >= ev.end]
        return min(later, default=num)

    for fact in facts:
        rel = Relation(fact.subject, fact.predicate, fact.object)
        if fact.kind == "static":
            add(rel, 0, num)
        elif fact.kind in ("during", "result") and fact.event is not None and fact.event < len(events):
            ev = events[fact.event]
            if fact.kind == "during":
                add(rel, ev.start, ev.end)
            else:
                moved_again = [
                    e.start
                    for e in events
                    if e.target == fact.subject
                    and e.start >= ev.end
                    and e.head in lx.PLACEMENT_VERBS | {"take", "pick"}
                ]
                add(rel, ev.end - 1, min(moved_again, default=num))
    there: dict[str, tuple[str, int]] = {}  # agent -> (target it moved to, when it got there)
    for ev in sorted(events, key=lambda e: (e.start, e.end)):
        stages = chain_of(ev)
        if not stages or ev.target is None:
            continue
        already = there.get(ev.agent)
        there[ev.agent] = (ev.target, ev.end)
        length = ev.end - ev.start
        if already is not None and already[0] == ev.target and already[1] <= ev.start:
            stages = stages[-1:]  # already next to the target: no new approach
        elif length >= 2:
            shown = stages if length >= len(stages) else stages[-length:]
            for k in range(length):
                stage = shown[min(len(shown) - 1, k * len(shown) // length)]
                if stage is not None and stage != ev.predicate:
                    add(Relation(ev.agent, stage, ev.target), ev.start + k, ev.start + k + 1)
        final = stages[-1] if stages[-1] is not None else "near"
        add(Relation(ev.agent, final, ev.target), ev.end, next_action_start(ev))
    frames = []
    cache: dict[tuple[SceneGraph, frozenset[Relation]], SceneGraph] = {}
    for m, sg in enumerate(skeleton.frames):
        key = (sg, frozenset(extra[m]))
        if key not in cache:
            cache[key] = SceneGraph(sg.objects, sg.attributes, sg.relations + tuple(extra[m]))
        frames.append(cache[key])
    table = {e.id: e for e in skeleton.entities}
    table.update({e.id: e for e in entities})
    return skeleton.replace(frames=tuple(frames), entities=tuple(table.values()))
