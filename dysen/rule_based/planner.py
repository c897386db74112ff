"""The offline default planner: :class:`RuleBasedPlanner` (implements :class:`dsg.Planner`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from dsg import DynamicSceneGraph, Event, EventSchedule, Provenance, schedule_to_dsg

from ..errors import DysenInputError
from ..nlp import load_nlp, loaded_model_name
from .extract import Analysis, analyse_doc, fold_colours
from .imagine import imagine
from .overlap import OverlapModel, extend_overlaps
from .timeline import assign_times
from .vocabulary import ClosedVocabulary

__all__ = ["RuleBasedPlanner"]


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise DysenInputError("text", text, f"must be a str, got {type(text).__name__}")
    return text


class RuleBasedPlanner:
    """Text -> event schedule -> DSG with spaCy and hand-written rules; no model, no network.

    Step I (action planning) reads subject-verb-object events and their order from the dependency parse
    and the temporal connectives (see :mod:`dysen.rule_based.extract` and :mod:`dysen.rule_based.timeline`);
    Step II is :func:`dsg.schedule_to_dsg`; Step III is the rule-based imagination of
    :mod:`dysen.rule_based.imagine`. Every event lasts one step of *v* unless it is a background state.

    Args:
        imagine: run the rule-based imagination in :meth:`plan` (``False``: the Step II skeleton).
        substeps: frames per step of *v* in :meth:`plan` (``>= 1``). With ``substeps=3`` a one-step event
            gets three frames and its motion chain (approach -> near -> at) becomes visible; the DSG's
            schedule is scaled to the same grid and its ``time_unit`` becomes ``"v/3"``.
        implicit_agent: label of the agent of imperative sentences (recipes: "chop the onions").
        colour_in_label: name entities by colour and kind (``"red circle"``, no ``red`` attribute) instead of
            kind with colour attributes (the default). The procedural world of :mod:`vdm.world` names its
            entities this way, so its gold schedules compare label to label with this option on.
        nlp: a spaCy pipeline to use instead of the shared one from :func:`dysen.nlp.load_nlp`.
        vocabulary: a :class:`~dysen.rule_based.vocabulary.ClosedVocabulary`: map the predicates and entity
            kinds read onto it (``"slides to the left"`` -> ``move left``, ``"the ball"`` -> ``circle``);
            ``None`` (the default): open vocabulary, the words as read.
        overlap: an :class:`~dysen.rule_based.overlap.OverlapModel` (e.g. ``OverlapModel.default()``, fitted
            on ActivityNet paragraphs): sentences it reads as still going on when later ones start span
            them (unmarked overlaps across sentences); ``None`` (the default): only connectives overlap.

    The spaCy pipeline is loaded on first use, not at construction or import.
    """

    def __init__(
        self,
        *,
        imagine: bool = True,
        substeps: int = 1,
        implicit_agent: str = "person",
        colour_in_label: bool = False,
        nlp: Any | None = None,
        vocabulary: ClosedVocabulary | None = None,
        overlap: OverlapModel | None = None,
    ) -> None:
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise DysenInputError("substeps", substeps, "must be an integer >= 1")
        if not isinstance(implicit_agent, str) or not implicit_agent.strip():
            raise DysenInputError("implicit_agent", implicit_agent, "must be a non-empty string")
        self.imagine = imagine
        self.substeps = substeps
        self.implicit_agent = implicit_agent
        self.colour_in_label = colour_in_label
        self._nlp = nlp
        self.vocabulary = vocabulary
        self.overlap = overlap

    def __repr__(self) -> str:
        return (
            f"RuleBasedPlanner(imagine={self.imagine}, substeps={self.substeps}, "
            f"colour_in_label={self.colour_in_label})"
        )

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = load_nlp()
        return self._nlp

    # -- analysis ---------------------------------------------------------------------------------
    def analyse(self, text: str, *, doc: Any | None = None) -> Analysis:
        """Events (with source sentence and character offset), entities and scene facts of ``text``,
        events timed and in physical order."""
        text = _check_text(text)
        if not text.strip():
            return Analysis(text, source=text)
        vocab = self.vocabulary
        kind = None if vocab is None else vocab.kind
        default_kind = None if vocab is None else vocab.default_kind
        if self.overlap is not None and doc is None:
            doc = self.nlp(" ".join(text.split()))
        analysis = analyse_doc(
            self.nlp, text, doc=doc, implicit_agent=self.implicit_agent, kind=kind, default_kind=default_kind
        )
        analysis.source = text
        if vocab is not None:
            for ev in analysis.events:
                target = None if ev.target is None else analysis.entities[ev.target].label
                ev.predicate, keep = vocab.predicate(ev.predicate, target)
                if not keep:
                    ev.target = None
        if self.colour_in_label:
            fold_colours(analysis)
        # keep the extraction order for scene facts (they index events), then time them
        timed = assign_times(list(analysis.events))
        index = {id(ev): k for k, ev in enumerate(analysis.events)}
        for fact in analysis.facts:
            if fact.event is not None and fact.event < len(analysis.events):
                fact.event = [index[id(ev)] for ev in timed].index(fact.event)
        analysis.events = timed
        if self.overlap is not None and timed:
            sents = list(doc.sents)
            present = sorted({ev.sentence for ev in timed})
            if len(present) > 1:
                ext = self.overlap.extents([sents[s] for s in present])
                extend_overlaps(timed, [ev.sentence for ev in timed], dict(zip(present, ext)))
        return analysis

    def analyse_many(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[Analysis]:
        """:meth:`analyse` for many texts, parsed in batches with ``nlp.pipe``."""
        texts = [_check_text(t) for t in texts]
        norm = [" ".join(t.split()) for t in texts]
        for text, doc in zip(texts, self.nlp.pipe(norm, batch_size=batch_size)):
            yield self.analyse(text, doc=doc)

    # -- dsg.Planner --------------------------------------------------------------------------------
    @staticmethod
    def _schedule(analysis: Analysis) -> EventSchedule:
        events = tuple(Event(e.agent, e.predicate, e.target, e.start, e.end) for e in analysis.events)
        return EventSchedule(events, "v", analysis.used_entities())

    def schedule(self, text: str) -> EventSchedule:
        """Step I: the events of ``text`` in physical order on the grid of *v* (empty if none found)."""
        return self._schedule(self.analyse(text))

    def plan(self, text: str) -> DynamicSceneGraph:
        """Steps I-III. A text without any event gives an empty DSG whose provenance says so."""
        return self.plan_analysis(self.analyse(text))

    def plan_many(self, texts: Iterable[str], *, batch_size: int = 64) -> Iterator[DynamicSceneGraph]:
        for analysis in self.analyse_many(texts, batch_size=batch_size):
            yield self.plan_analysis(analysis)

    def plan_analysis(self, analysis: Analysis) -> DynamicSceneGraph:
        """Steps II-III from an :meth:`analyse` result."""
        meta = (("nlp", loaded_model_name() or "custom"), ("substeps", str(self.substeps)))
        if self.overlap is not None:  # which model let sentences overlap (DSGs of levels 1-3 keep their bytes)
            meta += (("overlap", str(self.overlap.meta.get("data", "custom overlap model"))),)
        prov = Provenance("RuleBasedPlanner", ("plan(rule-based)",), (), meta)
        k = self.substeps
        events = [replace(e, start=e.start * k, end=e.end * k) for e in analysis.events]
        unit = "v" if k == 1 else f"v/{k}"
        sched = EventSchedule(
            tuple(Event(e.agent, e.predicate, e.target, e.start, e.end) for e in events),
            unit,
            analysis.used_entities(),
        )
        if not sched.events:
            prov = Provenance(prov.producer, prov.steps, ("plan: no event found in the text",), meta)
            return schedule_to_dsg(
                sched,
                text=analysis.source if analysis.source is not None else analysis.text,
                provenance=prov,
                allow_empty=True,
            )
        skeleton = schedule_to_dsg(
            sched, text=analysis.source if analysis.source is not None else analysis.text, provenance=prov
        )
        if not self.imagine:
            return skeleton
        out = imagine(skeleton, events, analysis.facts, analysis.used_entities())
        return out.replace(provenance=out.provenance.with_step("imagine(rule-based)"))
