"""The offline planner ablations of paper Table 4 (import :mod:`dysen`, hence spaCy on use).

* :class:`NoImaginationRuleBasedPlanner` — "w/o scene imagination": Steps I-II only (the Step II skeleton).
* :class:`WindowlessRuleBasedPlanner` — "w/o sliding window": every scene graph imagined alone, without the
  ``[G(m-1), G(m), G(m+1)]`` context of §4.1 (see its docstring for the reading chosen).

Both load with ``vdm.pipelines.load_planner("paperbench.ablation_planners:<Class>")`` when this folder is on
``sys.path``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dsg import DynamicSceneGraph
from dysen import RuleBasedPlanner

__all__ = ["NoImaginationRuleBasedPlanner", "RuleBasedPlanner", "WindowlessRuleBasedPlanner"]


class NoImaginationRuleBasedPlanner(RuleBasedPlanner):
    """The offline planner without Step III (paper Table 4, "w/o Scene Imagin."): the Step II skeleton DSG."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("imagine", False)
        super().__init__(**kwargs)


class WindowlessRuleBasedPlanner(RuleBasedPlanner):
    """The offline planner with its imagination run on one scene graph at a time ("w/o SWC", paper Table 4).

    The paper's sliding-window context lets the imagination of ``G_m`` see the enriched ``G_{m-1}`` and the next
    ``G_{m+1}`` (§4.1, Step III), so that scenes inherit from their predecessors and prepare their successors.
    The rule-based imagination (:mod:`dysen.rule_based.imagine`) has no such switch, so this class removes the
    context the way the LLM ablation does (``LLMPlanner(sliding_window=False)``: every segment enriched alone):
    frame ``m`` is imagined from a one-frame skeleton holding only the events active at ``m`` (each seen as a
    one-step event, since a window of one frame cannot tell where an event started or ends), the static facts
    of the text and the facts of those events. What needs the neighbouring frames is lost: motion chains
    (approach -> near -> at), states carried until the next action (``near`` after ``approach``) and result
    states after their event. Per-frame facts (static and "during" facts, attributes) are kept.
    """

    def plan_analysis(self, analysis: Any) -> DynamicSceneGraph:
        from dysen.rule_based.imagine import imagine

        skeleton = NoImaginationRuleBasedPlanner(
            substeps=self.substeps, implicit_agent=self.implicit_agent, colour_in_label=self.colour_in_label
        ).plan_analysis(analysis)
        if not self.imagine or skeleton.schedule is None or not len(skeleton.schedule):
            return skeleton
        k = self.substeps
        events = [replace(e, start=e.start * k, end=e.end * k) for e in analysis.events]
        entities = analysis.used_entities()
        frames, table = [], {e.id: e for e in skeleton.entities}
        for m, sg in enumerate(skeleton.frames):
            active = [i for i, e in enumerate(events) if e.start <= m < e.end]
            index = {i: j for j, i in enumerate(active)}
            local_events = [replace(events[i], start=0, end=1) for i in active]
            local_facts = [
                replace(f, event=None if f.event is None else index[f.event])
                for f in analysis.facts
                if f.kind == "static" or (f.event is not None and f.event in index)
            ]
            one = DynamicSceneGraph(frames=(sg,), entities=skeleton.entities, text=skeleton.text)
            enriched = imagine(one, local_events, local_facts, entities)
            frames.append(enriched.frames[0])
            table.update({e.id: e for e in enriched.entities})
        out = skeleton.replace(frames=tuple(frames), entities=tuple(table.values()))
        return out.replace(provenance=out.provenance.with_step("imagine(rule-based, no sliding window)"))
