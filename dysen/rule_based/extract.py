"""Step I without a model: events, entities and scene facts from a spaCy dependency parse.

The extraction follows the paper's event format ``(agent, event-predicate, target)`` (§4.1, Step I):

* **entities** come from noun phrases: the head noun (lemmatised) with its noun compounds and an
  ``of``-complement without a determiner form the label (``"bottle of water"``, ``"fitness mat"``);
  adjectives, numbers and colour/size words are attributes (``red``, ``small``); ``another``/``other``
  forces a new entity; a later mention with the same label and compatible attributes is the same entity
  (``"a woman ... the woman"``), one with a conflicting colour or size is a new one (``circle#2``).
  Pronouns are resolved to the most recent fitting agent (``he``/``she``/``they``: a person, ``it``: a thing).
* **predicates** are verb lemmas with their particles and direction adverbs (``get out``, ``move left``,
  ``pick up``); without a direct object the first prepositional phrase joins the predicate and its noun
  becomes the target (``sit on`` + chair, ``get out of`` + car). Passives are turned active when the agent is
  given (``"the ball is kicked by the boy"`` -> ``(boy, kick, ball)``), and otherwise keep the patient as
  agent with predicate ``be <participle>``. Light verbs that govern another verb are transparent
  (``"is seen speaking"``, ``"begins to dance"``). Imperatives (recipes) get an implicit agent.
* **coordination**: coordinated verbs share the subject (``"puts X in the bag and takes Y"``), coordinated
  subjects or objects give concurrent events.
* **scene facts** for the rule-based imagination: noun-attached prepositional phrases (``"a man in a red
  shirt"``: static), the destination of placement verbs (``"puts a bottle in the bag"``: result state) and
  other prepositional phrases of the verb (``"walks on the road with his dog"``: during the event).

spaCy's small model sometimes reads a sentence-initial ``"the red circle moves left"`` as one noun compound
(``circle moves``). :func:`analyse_doc` detects that pattern (a verb-able plural noun that ends a subject
noun run and is followed by a non-noun), replaces the subject phrase by ``it`` and parses again; the
placeholder is mapped back to the original phrase, so entities keep their adjectives.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsg import Entity, normalize_label

from . import lexicon as lx

__all__ = ["Analysis", "ExtractedEvent", "Mention", "SceneFact", "analyse_doc", "fold_colours"]

_NOMINAL = ("NOUN", "PROPN")
_SUBJ = ("nsubj", "csubj")
_INHERIT_DEPS = ("conj", "xcomp", "ccomp", "advcl", "pcomp", "dep", "oprd", "parataxis")
_NOT_EVENT_DEPS = ("aux", "auxpass", "amod", "compound", "nmod", "det", "case")
_DIRECTION_DEPS = ("advmod", "acomp", "xcomp", "npadvmod", "oprd", "prt", "ccomp", "acl", "advcl", "dep")
_DEGREE_ADVERBS = frozenset(["close", "closer", "near", "nearer", "next"])
_CLAUSE_MARKS = lx.CONCURRENT | lx.PRECEDES | lx.FOLLOWS
_PART_NOUNS = frozenset(
    ["front", "top", "side", "middle", "back", "edge", "centre", "center", "bottom", "end", "inside", "outside"]
)


@dataclass(frozen=True)
class Mention:
    """A noun phrase: label, attributes and noun-attached prepositional phrases."""

    label: str
    attributes: tuple[str, ...] = ()
    pronoun: str | None = None
    new: bool = False
    person: bool = False
    relations: tuple[tuple[str, Mention], ...] = ()


@dataclass
class SceneFact:
    """A relation imagined from the text rather than an event of it.

    ``kind``: ``"static"`` (holds in every frame), ``"during"`` (while event ``event`` happens) or
    ``"result"`` (from the end of event ``event`` on).
    """

    subject: str
    predicate: str
    object: str | None
    kind: str
    event: int | None = None


@dataclass
class ExtractedEvent:
    """One event with where it came from; ``start``/``end`` are filled by the timeline."""

    agent: str
    predicate: str
    target: str | None
    head: str
    sentence: int
    token: int
    char: int
    group: int
    connective: str | None = None
    connective_kind: str | None = None
    subordinate: bool = False
    start: int = 0
    end: int = 1
    fronted: bool = False
    """A subordinate clause before its main clause ("then, *before B*, A")."""
    joined: bool = False
    """The clause is joined to the one before it by a plain ``and`` (no connective of its own)."""


@dataclass
class Analysis:
    """Everything the rule-based planner read from a text."""

    text: str
    events: list[ExtractedEvent] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    facts: list[SceneFact] = field(default_factory=list)
    sentences: list[tuple[int, int]] = field(default_factory=list)
    reparsed: bool = False
    source: str | None = None
    """The text as given (``text`` is its whitespace-normalised form, which character offsets refer to)."""

    def used_entities(self) -> tuple[Entity, ...]:
        used = {e.agent for e in self.events} | {e.target for e in self.events if e.target}
        used |= {f.subject for f in self.facts if f.subject in used} | {
            f.object for f in self.facts if f.object and f.subject in used
        }
        return tuple(self.entities[i] for i in sorted(used) if i in self.entities)


# ---------------------------------------------------------------------------------------------------
# entity registry
# ---------------------------------------------------------------------------------------------------
class _Registry:
    """Entity ids by label, with attribute-compatible merging and pronoun resolution."""

    def __init__(self, implicit_agent: str, kind: Callable[[str], str] | None = None) -> None:
        self.kind = kind
        self.label: dict[str, str] = {}
        self.attrs: dict[str, set[str]] = {}
        self.person: dict[str, bool] = {}
        self.mentions: list[tuple[int, str]] = []  # (token index, id) in text order
        self.agents: list[str] = []
        self.targets: list[str] = []  # event targets in text order: antecedents of an object "it"
        self.implicit_agent = implicit_agent

    @staticmethod
    def _size_classes(words: set[str]) -> set[str]:
        return {"large" if w in lx.LARGE_SIZES else "small" if w in lx.SMALL_SIZES else w for w in words}

    @classmethod
    def _compatible(cls, a: set[str], b: set[str]) -> bool:
        for group in (lx.COLOURS, lx.SIZES):
            ga, gb = a & group, b & group
            if group is lx.SIZES:
                ga, gb = cls._size_classes(ga), cls._size_classes(gb)
            if ga and gb and not ga & gb:
                return False
        return True

    @classmethod
    def _described(cls, have: set[str], said: set[str]) -> bool:
        """Every colour and size ``said`` of a referring expression is one the entity ``have``s."""
        colours, sizes = said & lx.COLOURS, cls._size_classes(said & lx.SIZES)
        return bool(colours or sizes) and colours <= have and sizes <= cls._size_classes(have & lx.SIZES)

    def _referent(self, m: Mention, token: int) -> str | None:
        """The entity a kind-less referring expression ("the red one", "the small shape") picks out: the
        latest mentioned entity with all its colours and sizes (``None``: no such entity)."""
        said = set(m.attributes)
        for _, ident in reversed(self.mentions):
            if self.label[ident] not in lx.REFERRING_HEADS and self._described(self.attrs[ident], said):
                self.mentions.append((token, ident))
                return ident
        colours = said & lx.COLOURS
        for _, ident in reversed(self.mentions):  # "the cyan shape appears ... the small cyan one"
            have = self.attrs[ident]
            if self.label[ident] in lx.REFERRING_HEADS and colours and colours <= have and self._compatible(have, said):
                self.attrs[ident] |= said
                self.mentions.append((token, ident))
                return ident
        return None

    def _new_id(self, label: str) -> str:
        ident, k = label, 1
        while ident in self.label:
            k += 1
            ident = f"{label}#{k}"
        return ident

    def add(self, m: Mention, token: int) -> str:
        if self.kind is not None and not m.person:
            m = Mention(self.kind(m.label), m.attributes, m.pronoun, m.new, m.person, m.relations)
        if not m.new and m.label in lx.REFERRING_HEADS:
            ident = self._referent(m, token)
            if ident is not None:
                return ident
        if not m.new:
            for _, ident in reversed(self.mentions):
                if self.label[ident] == m.label and self._compatible(self.attrs[ident], set(m.attributes)):
                    self.attrs[ident] |= set(m.attributes)
                    self.mentions.append((token, ident))
                    return ident
            for ident, label in self.label.items():  # defined but not yet mentioned (implicit agent)
                if label == m.label and self._compatible(self.attrs[ident], set(m.attributes)):
                    self.attrs[ident] |= set(m.attributes)
                    self.mentions.append((token, ident))
                    return ident
        ident = self._new_id(m.label)
        self.label[ident] = m.label
        self.attrs[ident] = set(m.attributes)
        self.person[ident] = m.person
        self.mentions.append((token, ident))
        return ident

    def implicit(self) -> str:
        return self.add(Mention(self.implicit_agent, person=True), -1)

    def resolve_kindless(self, default_kind: str | None = None) -> dict[str, str]:
        """Entities first introduced without a kind (``"the yellow one appears"`` with no yellow entity
        before it) that a later mention names: ``"... the yellow triangle turns green"``. A kind-less entity
        merges into the one later entity of a kind first mentioned after it that has its colour, or, when
        there is none, into the one later colourless mention of a kind (``"the triangle rotates"``). Those
        still without a kind get ``default_kind`` when given. A kind-less expression that names only a
        size (``"the little one"``) merges into the one later entity of that size. Returns
        ``{old id: new id}`` of merged or renamed entities (the registry is updated)."""
        first: dict[str, int] = {}
        for tok, ident in self.mentions:
            first.setdefault(ident, tok)

        def kinded(ident: str) -> bool:  # a kind of thing ("a colour" as in "turns to magenta" is none)
            label = self.label[ident]
            return label not in lx.REFERRING_HEADS and label not in lx.ATTRIBUTE_WORDS and not self.person[ident]

        mapping: dict[str, str] = {}
        kindless = [i for i in self.label if self.label[i] in lx.REFERRING_HEADS and not self.person[i]]
        for ident in sorted(kindless, key=lambda i: first.get(i, -1)):
            colours = self.attrs[ident] & lx.COLOURS
            later = [
                c
                for c in self.label
                if kinded(c)
                and c not in mapping.values()
                and first.get(c, -1) > first.get(ident, -1)
                and self._compatible(self.attrs[c], self.attrs[ident])
            ]
            pick = [c for c in later if colours and colours <= self.attrs[c]]
            if not pick and colours:  # the one colourless mention of a kind, before or after ("the block")
                pick = [
                    c
                    for c in self.label
                    if kinded(c)
                    and c not in mapping.values()
                    and not self.attrs[c] & lx.COLOURS
                    and self._compatible(self.attrs[c], self.attrs[ident])
                ]
            sizes = self._size_classes(self.attrs[ident] & lx.SIZES)
            if not colours and sizes:  # "the little one shows up ... the tiny yellow dot"
                pick = [c for c in later if sizes <= self._size_classes(self.attrs[c] & lx.SIZES)]
            if len(pick) == 1:
                mapping[ident] = pick[0]
                self.attrs[pick[0]] |= self.attrs[ident]
            elif default_kind is not None:
                mapping[ident] = self._new_id(default_kind)
                self.label[mapping[ident]] = default_kind
                self.attrs[mapping[ident]] = set(self.attrs[ident])
                self.person[mapping[ident]] = False
        for old in mapping:
            del self.label[old], self.attrs[old], self.person[old]
        self.mentions = [(tok, mapping.get(i, i)) for tok, i in self.mentions]
        return mapping

    def pronoun(self, word: str, token: int, *, subject: bool, exclude: str | None = None) -> str:
        """Resolve a pronoun: a subject pronoun prefers the latest fitting agent, an object pronoun the
        nearest fitting mention before it other than the clause's agent. ``they``/``them`` fit anything."""
        person: bool | None = None if word in lx.NEUTRAL_PRONOUNS else word in lx.PERSON_PRONOUNS

        def fits(ident: str) -> bool:
            return person is None or self.person[ident] == person

        if subject:
            for ident in reversed(self.agents):
                if fits(ident):
                    return ident
        elif person is not True:  # "picks it up": the thing the previous action was done to
            for ident in reversed(self.targets):
                if fits(ident) and ident != exclude:
                    return ident
        before = [ident for tok, ident in reversed(self.mentions) if tok < token and fits(ident)]
        for ident in before:
            if ident != exclude:
                return ident
        if before:
            return before[0]
        if self.agents and self.agents[-1] != exclude:
            return self.agents[-1]
        return self.add(Mention(self.implicit_agent if person is not False else "object", person=bool(person)), token)

    def entity(self, ident: str) -> Entity:
        return Entity(ident, self.label[ident], tuple(sorted(self.attrs[ident])))


# ---------------------------------------------------------------------------------------------------
# noun phrases
# ---------------------------------------------------------------------------------------------------
_ARGUMENT_DEPS = ("nsubj", "nsubjpass", "dobj", "obj", "pobj", "appos")


def _adjective_as_noun(tok: Any) -> bool:
    """An adjective in an argument position is a noun the tagger got wrong ("the yellow square" -> ADJ)."""
    return tok.pos_ == "ADJ" and tok.dep_ in _ARGUMENT_DEPS and tok.lower_ not in lx.ATTRIBUTE_WORDS


def _is_attribute(tok: Any) -> bool:
    low = tok.lower_
    if low in lx.ATTRIBUTE_WORDS:
        return True
    if tok.pos_ in ("ADJ", "NUM"):
        return True
    return tok.tag_ == "VBN"


def _mention_from_tokens(tokens: list[Any], head: Any, of_label: str | None) -> Mention | None:
    """Label and attributes from the pre-head modifiers ``tokens`` (in order) and the head token;
    ``None`` when nothing of a label is left after normalisation (a stray punctuation "noun")."""
    words: list[str] = []
    attrs: list[str] = []
    new = False
    for t in tokens:
        low = t.lower_
        if t.dep_ == "poss" or t.pos_ in ("PUNCT", "CCONJ", "PART", "ADP", "ADV", "AUX", "PRON"):
            continue
        if t.pos_ == "DET" or t.dep_ in ("det", "predet"):
            new = new or low in lx.NEW_ENTITY_DETERMINERS
            continue
        if low in lx.NEW_ENTITY_DETERMINERS:
            new = True
            continue
        if _is_attribute(t):
            attr = normalize_label(t.lemma_ if t.pos_ == "ADJ" and t.lemma_ else low)
            if attr:
                attrs.append(attr)
        elif t.pos_ in (*_NOMINAL, "VERB", "X") and normalize_label(low):
            words.append(normalize_label(low))
    head_word = head.lemma_.lower() if head.pos_ == "NOUN" and head.lemma_ else head.lower_
    if head.lower_ in lx.ATTRIBUTE_WORDS and not words:
        head_word = head.lower_
    label = normalize_label(" ".join([*words, head_word]), entity=True)
    if not label:
        return None
    if of_label:
        label = f"{label} of {of_label}"
    person = head_word in lx.PERSON_NOUNS or head.lower_ in lx.PERSON_NOUNS
    return Mention(label, tuple(dict.fromkeys(attrs)), None, new, person)


def _poss_subtree(head: Any) -> set[int]:
    out: set[int] = set()
    for c in head.children:
        if c.dep_ == "poss":
            out |= {t.i for t in c.subtree}
    return out


def _noun_mention(head: Any, recurse: Callable[[Any], Mention | None]) -> Mention | None:
    skip = _poss_subtree(head)
    pre = [t for t in head.doc[head.left_edge.i : head.i] if t.i not in skip]
    of_label = None
    rels: list[tuple[str, Mention]] = []
    for c in head.children:
        if c.i < head.i or c.dep_ != "prep":
            continue
        pobj = next((g for g in c.children if g.dep_ == "pobj"), None)
        if pobj is None:
            continue
        if c.lower_ == "of" and of_label is None:
            if not any(
                g.dep_ == "det" and g.lower_ in ("the", "this", "that", "these", "those") for g in pobj.children
            ):
                inner = recurse(pobj)
                if inner is not None and inner.pronoun is None:
                    of_label = inner.label
            continue
        if c.lower_ in lx.LOCATIVE_PREPOSITIONS or c.lower_ == "with":
            inner = recurse(pobj)
            if inner is not None:
                rels.append((lx.LOCATIVE_PREPOSITIONS.get(c.lower_, c.lower_), inner))
    m = _mention_from_tokens(pre, head, of_label)
    if m is None:
        return None
    return Mention(m.label, m.attributes, None, m.new, m.person, tuple(rels))


# ---------------------------------------------------------------------------------------------------
# the noun/verb repair: "the red circle moves left" read as one compound noun
# ---------------------------------------------------------------------------------------------------
def _verb_index(nlp: Any) -> frozenset[str]:
    cached = getattr(nlp, "_dysen_verbs", None)
    if cached is None:
        try:
            table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
            cached = frozenset(table["verb"])
        except (KeyError, ValueError, AttributeError):
            cached = frozenset(lx.MOTION_TO_VERBS | lx.CONTACT_VERBS | lx.PLACEMENT_VERBS)
        with contextlib.suppress(AttributeError):  # a Language accepts attributes; a stand-in may not
            nlp._dysen_verbs = cached
    return cached


def _is_boundary(tok: Any) -> bool:
    low = tok.lower_
    return (
        tok.pos_ in ("PUNCT", "SCONJ", "CCONJ")
        or low in lx.SEQUENTIAL
        or low in lx.CONCURRENT
        or low in lx.PRECEDES
        or low in lx.FOLLOWS
        or low in lx.FIRST
    )


def _verb_lemma_of_noun(tok: Any, verbs: frozenset[str]) -> str | None:
    """The verb a token tagged as a noun could be: ``jumps`` -> ``jump``, ``drinking`` -> ``drink``."""
    low = tok.lower_
    if tok.tag_ in ("NNS", "NN", "NNPS") and not low.endswith("ing"):
        lemma = tok.lemma_.lower()
        if lemma not in verbs and tok.tag_ != "NN" and low.endswith("shes") and low[:-2] in verbs:
            return low[:-2]  # "vanishes", lemmatised as the noun "vanishe"
        if lemma not in verbs and tok.tag_ == "NNPS" and low.endswith("s") and low[:-1] in verbs:
            return low[:-1]  # "the box twirls" read as a proper noun "Box Twirls"
        return lemma if lemma in verbs else None
    if tok.tag_ == "NNP" and low.endswith("s") and low[:-1] in verbs:
        return low[:-1]  # "the cyan ball slides left": "Ball Slides"
    if tok.tag_ == "NN" and low.endswith("ing") and len(low) > 5:
        stem = low[:-3]
        for cand in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else ""):
            if cand in verbs:
                return cand
    return None


@dataclass(frozen=True)
class _Edit:
    """A repair of the first parse: replace tokens ``[start, end)`` by ``it`` (a subject phrase) or, with
    ``start == end``, insert ``words`` before token ``start`` (a subject for a coordinated verb)."""

    start: int
    end: int
    words: str = "it"


def _misread_verbs(doc: Any, verbs: frozenset[str]) -> list[_Edit]:
    """Places where spaCy's small model read a verb as a noun, and the edit that makes it parse right.

    * ``"the red circle moves left"`` (``circle moves`` as a compound): the subject phrase becomes ``it``;
    * ``"she smiles and waves at the camera"`` (``waves`` as a plural noun): ``it`` is inserted before the
      verb (it then inherits the subject of the verb it is coordinated with);
    * ``"sitting on the chair and drinking coffee"`` (``drinking`` as a noun): ``it is`` is inserted.
    """
    edits: list[_Edit] = []
    for t in doc:
        if t.lower_ in lx.DIRECTIONS and t.pos_ == "VERB" and t.dep_ == "ROOT":
            verb = next((c for c in t.children if c.dep_ == "nsubj" and c.tag_ == "VBZ"), None)
            if verb is not None and verb.left_edge.i < verb.i:  # "the triangle drifts left"
                span = doc[verb.left_edge.i : verb.i]
                if all(x.pos_ in ("DET", "ADJ", "NOUN", "PROPN", "NUM") for x in span):
                    edits.append(_Edit(verb.left_edge.i, verb.i))
                    continue
        split = _split_subject(t)
        if split is not None:
            edits.append(_Edit(split, t.i + 1))
            continue
        glued = _glued_subject(t)
        if glued is not None:
            edits.append(_Edit(glued, t.i))
            continue
        if t.lower_ in lx.DIRECTIONS and t.pos_ == "VERB" and t.i >= 2:  # "... the dot moves left" as "leave"
            verb = doc[t.i - 1]
            start = _noun_run_start(doc, verb.i)
            if _verb_lemma_of_noun(verb, verbs) is not None and start is not None:
                edits.append(_Edit(start, verb.i))
                continue
        if t.i == 0 or _verb_lemma_of_noun(t, verbs) is None:
            continue
        prev = doc[t.i - 1]
        nxt = doc[t.i + 1] if t.i + 1 < len(doc) else None
        sent = t.sent
        if prev.lower_ in ("and", ",", "then") and t.tag_ == "NNS":
            if nxt is None or nxt.pos_ not in (*_NOMINAL, "VERB", "AUX") or nxt.lower_ in lx.DIRECTIONS:
                has_verb = any(x.pos_ == "VERB" and x.tag_ == "VBZ" for x in doc[sent.start : prev.i])
                if has_verb:
                    edits.append(_Edit(t.i, t.i, "it"))
            continue
        if prev.lower_ == "and" and t.tag_ == "NN" and t.lower_.endswith("ing"):
            if any(x.tag_ == "VBG" for x in doc[sent.start : prev.i]):
                edits.append(_Edit(t.i, t.i, "it is"))
            continue
        verbless = not any(x.pos_ in ("VERB", "AUX") for x in sent)  # "a dog and a cat run": all nouns
        if not (t.tag_ in ("NNS", "NNPS", "NNP") or (verbless and t.tag_ == "NN")):
            continue
        if (prev.pos_ not in (*_NOMINAL, "ADJ") and prev.lower_ != "one") or prev.lower_ in lx.ATTRIBUTE_WORDS:
            continue
        if (
            nxt is not None
            and nxt.lower_ not in lx.DIRECTIONS
            and nxt.lower_ not in ("colour", "color", "to")  # "the disc changes colour to cyan", "switches to"
            and (nxt.pos_ in (*_NOMINAL, "VERB", "AUX"))
        ):
            continue
        start = prev.i
        while start > sent.start:
            cand = doc[start - 1]
            if _is_boundary(cand):
                break
            if (
                cand.pos_ in (*_NOMINAL, "ADJ", "NUM", "DET")
                or cand.lower_ in lx.ATTRIBUTE_WORDS
                or (cand.lower_ == "of" and start - 2 >= sent.start and doc[start - 2].pos_ in _NOMINAL)
            ):
                start -= 1
            else:
                break
        if not any(x.pos_ == "DET" or x.pos_ in _NOMINAL for x in doc[start : t.i]):
            continue
        clause_start = start
        while clause_start > sent.start and not _is_boundary(doc[clause_start - 1]):
            clause_start -= 1
        if any(x.pos_ in ("VERB", "AUX") for x in doc[clause_start:start]):
            continue
        edits.append(_Edit(start, t.i))
    return edits


def _noun_run_start(doc: Any, end: int) -> int | None:
    """Start of the noun phrase (determiner, adjectives, nouns) that ends just before token ``end`` and
    begins with a determiner, within its sentence and clause; ``None`` if there is none."""
    start = end
    lo = doc[end].sent.start
    while (
        start > lo
        and doc[start - 1].pos_ in ("DET", "ADJ", "NOUN", "PROPN", "NUM")
        and not _is_boundary(doc[start - 1])
    ):
        start -= 1
        if doc[start].pos_ == "DET":
            return start
    return None


def _split_subject(t: Any) -> int | None:
    """``"the small magenta one approaches"`` parsed with ``magenta`` and ``one`` as two subjects of the
    verb: the start of the whole subject phrase ending in ``one`` (token ``t``), else ``None``."""
    if t.lower_ != "one" or t.dep_ != "nsubj" or t.head.pos_ != "VERB":
        return None
    split = [c for c in t.head.children if c.dep_ == "nsubj" and c.i < t.i and c.lower_ in lx.ATTRIBUTE_WORDS]
    if not split:
        return None
    return _phrase_start(t, split)


def _phrase_start(t: Any, parts: list[Any]) -> int | None:
    """Start of the phrase from the leftmost of ``parts`` up to token ``t`` if it is all determiners,
    adjectives, nouns and numbers, else ``None``."""
    start = min(c.left_edge.i for c in parts)
    span = t.doc[start : t.i]
    if not all(x.pos_ in ("DET", "ADJ", "NOUN", "PROPN", "NUM") for x in span):
        return None
    return start


def _glued_subject(t: Any) -> int | None:
    """``"the blue triangle rotates"`` parsed with ``the``/``blue``/``triangle`` as ``det``/``amod``/
    ``compound`` children of the verb and no subject: the start of that subject phrase, else ``None``."""
    if t.pos_ != "VERB" or any(c.dep_ in ("nsubj", "nsubjpass", "csubj") for c in t.children):
        return None
    left = [c for c in t.lefts if c.dep_ in ("det", "amod", "compound")]
    if not left or not any(c.dep_ in ("amod", "compound") for c in left):
        return None
    return _phrase_start(t, left)


def _edited_text(doc: Any, edits: list[_Edit]) -> tuple[str, dict[int, _Edit], list[tuple[int, int]]]:
    """The repaired text, the edit behind each inserted ``it`` (by character offset), and the character
    shifts ``(position in the new text, shift)`` that map offsets back to the original text."""
    out: list[str] = []
    where: dict[int, _Edit] = {}
    shifts: list[tuple[int, int]] = []
    inserts = {e.start: e for e in edits if e.start == e.end}
    replaces = {e.start: e for e in edits if e.start < e.end}
    i = pos = 0
    while i < len(doc):
        if i in inserts:
            e = inserts.pop(i)
            where[pos] = e
            piece = e.words + " "
            shifts.append((pos, -len(piece)))
            out.append(piece)
            pos += len(piece)
            continue
        if i in replaces:
            e = replaces[i]
            word = "It" if doc[i].is_sent_start else "it"
            where[pos] = e
            original = doc[e.start : e.end].text
            piece = word + doc[e.end - 1].whitespace_
            shifts.append((pos, len(original) - len(word)))
            i = e.end
        else:
            piece = doc[i].text_with_ws
            i += 1
        out.append(piece)
        pos += len(piece)
    return "".join(out), where, shifts


# ---------------------------------------------------------------------------------------------------
# the analyser
# ---------------------------------------------------------------------------------------------------
class _Analyser:
    def __init__(
        self,
        doc: Any,
        text: str,
        masks: dict[int, Mention | None],
        implicit_agent: str,
        verbs: frozenset[str],
        kind: Callable[[str], str] | None = None,
        default_kind: str | None = None,
    ) -> None:
        self.default_kind = default_kind
        self.doc = doc
        self.text = text
        self.masks = masks  # token index -> mention of the replaced phrase (None: an inserted subject)
        self.verbs = verbs
        self.reg = _Registry(implicit_agent, kind)
        self.ids: dict[int, str] = {}  # nominal head token -> entity id
        self.mention_cache: dict[int, Mention | None] = {}
        self.facts: list[SceneFact] = []
        self.events: list[ExtractedEvent] = []

    # -- mentions ---------------------------------------------------------------------------------
    def mention(self, tok: Any) -> Mention | None:
        if tok.i in self.mention_cache:
            return self.mention_cache[tok.i]
        self.mention_cache[tok.i] = None  # guard against cycles in odd parses
        if tok.i in self.masks:
            m: Mention | None = self.masks[tok.i]
        elif tok.lower_ in lx.RELATIVE_PRONOUNS and tok.tag_ in ("WP", "WDT", "WP$"):
            m = Mention(tok.lower_, pronoun="relative")
        elif tok.pos_ == "PRON" or tok.lower_ in lx.PERSON_PRONOUNS | lx.THING_PRONOUNS | lx.NEUTRAL_PRONOUNS:
            low = tok.lower_
            m = Mention(low, pronoun=low, person=low in lx.PERSON_PRONOUNS)
        elif tok.pos_ in (*_NOMINAL, "NUM", "X") or tok.lower_ in lx.ATTRIBUTE_WORDS or _adjective_as_noun(tok):
            m = _noun_mention(tok, self.mention)
            if tok.lower_ == "one" and tok.left_edge.i == tok.i and tok.i > 0:
                # "the cyan one moves": "the" and "cyan" parsed as children of the verb, not of "one"
                k = tok.i
                while k > 0 and self.doc[k - 1].head.i == tok.head.i and self.doc[k - 1].dep_ in ("det", "amod"):
                    k -= 1
                if k < tok.i:
                    m = _mention_from_tokens(list(self.doc[k : tok.i]), tok, None) or m
            one = any(c.lower_ == "one" and c.dep_ == "nummod" and c.i == tok.i + 1 for c in tok.children)
            if m is not None and one and tok.lower_ in lx.ATTRIBUTE_WORDS:  # "the magenta one": "one" the head
                m = Mention("one", (*m.attributes, tok.lower_), None, m.new, False, m.relations)
        else:
            m = None
        self.mention_cache[tok.i] = m
        return m

    def resolve_all(self) -> None:
        """Give every noun phrase an entity id, in text order (so that ``the woman`` finds ``a woman``)."""
        for tok in self.doc:
            nominal = tok.pos_ in _NOMINAL or _adjective_as_noun(tok)
            if self.masks.get(tok.i) is not None or (
                tok.i not in self.masks and nominal and tok.dep_ not in ("compound", "amod", "poss")
            ):
                if tok.lower_ in lx.TIME_NOUNS and tok.dep_ in ("pobj", "npadvmod"):
                    continue
                m = self.mention(tok)
                if m is not None and m.pronoun is None:
                    self.ids[tok.i] = self.reg.add(m, tok.i)
                    for prep, inner in m.relations:
                        other = self.reg.add(inner, tok.i)
                        self.facts.append(SceneFact(self.ids[tok.i], prep, other, "static"))

    def entity_of(self, tok: Any, *, subject: bool, exclude: str | None = None) -> str | None:
        m = self.mention(tok)
        if m is None:
            return None
        if m.pronoun == "relative":
            head = tok.head
            while head.pos_ == "VERB" and head.dep_ in ("relcl", "acl", "conj") and head.head.i != head.i:
                head = head.head
                if head.dep_ not in ("relcl", "acl", "conj") and head.pos_ != "VERB":
                    break
            return self.ids.get(head.i) if head.pos_ in _NOMINAL or head.i in self.masks else None
        if m.pronoun is not None:
            if m.pronoun in ("myself", "yourself", "himself", "herself", "itself", "themselves") and exclude:
                return exclude
            return self.reg.pronoun(m.pronoun, tok.i, subject=subject, exclude=exclude)
        return self.ids.get(tok.i) or self.reg.add(m, tok.i)

    # -- verbs ------------------------------------------------------------------------------------
    def lemma(self, v: Any) -> str:
        """The verb's lemma, correcting spaCy's ``rides`` -> ``rid`` (prefer the verb that keeps the ``e``)."""
        lemma = v.lemma_.lower()
        low = v.lower_
        if v.tag_ == "VBZ" and low.endswith("es") and low[:-1] in self.verbs and lemma != low[:-1]:
            return low[:-1]
        return lemma

    @staticmethod
    def _verb_children(v: Any) -> list[Any]:
        """Verbs ``v`` governs; a clause of its own ("gets smaller *while* it turns blue") is not one."""
        return [
            c
            for c in v.children
            if c.pos_ == "VERB"
            and c.dep_ in ("xcomp", "ccomp", "oprd", "advcl")
            and not any(g.dep_ == "mark" and g.lower_ in _CLAUSE_MARKS for g in c.children)
        ]

    def is_transparent(self, v: Any) -> bool:
        return self.lemma(v) in lx.LIGHT_VERBS and any(c.i > v.i for c in self._verb_children(v))

    def is_event_verb(self, v: Any) -> bool:
        if v.pos_ != "VERB" or v.dep_ in _NOT_EVENT_DEPS or self.lemma(v) == "be":
            return False
        if v.lower_ in lx.COLOURS and v.head.i != v.i:
            return False  # "changes to yellow": the colour of its head, not the verb "to yellow"
        if v.lower_ in lx.DIRECTIONS and v.head.i != v.i and v.head.pos_ == "VERB" and v.dep_ != "conj":
            return False  # "moves left": a direction of its head, not the verb "leave"
        if v.dep_ == "acl" and v.tag_ == "VBN":
            return False  # "a man dressed as Santa": a description, not an action
        return not self.is_transparent(v)

    def subject_token(self, v: Any) -> tuple[Any | None, bool]:
        """(subject token, is it a passive patient) of ``v``, inherited through coordination and light verbs."""
        seen = set()
        cur = v
        while cur.i not in seen:
            seen.add(cur.i)
            for c in cur.children:
                if c.dep_ in _SUBJ and not (c.i in self.masks and self.masks[c.i] is None):
                    return c, False
            for c in cur.children:
                if c.dep_ == "nsubjpass":
                    return c, cur.i == v.i
            if cur.dep_ in ("acl", "relcl") and (cur.head.pos_ in _NOMINAL or cur.head.i in self.masks):
                return cur.head, False
            if cur.dep_ in _INHERIT_DEPS and cur.head.i != cur.i:
                nxt = cur.head
                if nxt.pos_ == "ADP" and nxt.head.i != nxt.i:  # "before going back": pcomp of a preposition
                    nxt = nxt.head
                if nxt.pos_ in ("VERB", "AUX"):
                    cur = nxt
                    continue
            break
        return None, False

    def predicate_and_target(self, v: Any, agent: str, passive_patient: str | None) -> tuple[str, list[str | None]]:
        words = [self.lemma(v)]
        extra: list[tuple[int, str]] = []
        for c in v.children:
            if c.i < v.i:
                continue
            if c.dep_ == "prt" or (c.lower_ in lx.DIRECTIONS and c.dep_ in _DIRECTION_DEPS):
                extra.append((c.i, c.lower_))
            elif all(g.dep_ in ("aux", "advcl", "punct") for g in c.children) and (
                (c.lower_ in lx.COLOURS and c.dep_ not in ("nsubj", "nsubjpass", "conj", "pobj"))
                or (c.pos_ == "ADJ" and c.dep_ in ("acomp", "oprd", "xcomp", "attr", "dobj"))
            ):
                extra.append((c.i, c.lower_ if c.lower_ in lx.COLOURS else normalize_label(c.lemma_)))  # turns green
        nxt = self.doc[v.i + 1] if v.i + 1 < len(self.doc) else None
        if (
            nxt is not None
            and not extra
            and nxt.lower_ in lx.DIRECTIONS
            and nxt.head.i != v.i
            and nxt.pos_ in ("ADJ", "ADV", "VERB")
            and nxt.dep_ in ("advcl", "acomp", "advmod", "ccomp", "conj", "dep", "xcomp")
            and not any(c.dep_ in ("nsubj", "nsubjpass", "dobj") for c in nxt.children)
        ):
            extra.append((nxt.i, nxt.lower_))  # "it twirls as it moves left": "left" hung on "twirls"
        words += [w for _, w in sorted(extra)]
        if passive_patient is not None:
            agent_tok = next((c for c in v.children if c.dep_ == "agent"), None)
            pobj = None if agent_tok is None else next((g for g in agent_tok.children if g.dep_ == "pobj"), None)
            if pobj is None:
                return "be " + v.lower_, [None]
            return " ".join(words), [passive_patient]
        objs = [c for c in v.children if c.dep_ in ("dobj", "obj") and (c.i, c.lower_) not in extra]
        targets: list[str | None] = []
        for o in objs:
            for tok in [o, *[c for c in o.conjuncts if c.i > o.i]]:
                ident = self.entity_of(tok, subject=False, exclude=agent)
                if tok.lower_ in lx.DIRECTIONS and ident is None:
                    words.append(tok.lower_)
                    continue
                if ident is not None:
                    targets.append(ident)
        preps = [c for c in v.children if c.dep_ in ("prep", "dative") and c.i > v.i]
        degree = {  # "comes closer to the square": the adverb's preposition is the verb's
            p.i: c.lower_
            for c in v.children
            if c.i > v.i and c.dep_ in ("advmod", "acomp") and c.lower_ in _DEGREE_ADVERBS
            for p in c.children
            if p.dep_ == "prep"
        }
        used_prep = None
        if not targets:
            for p in [*preps, *(t for t in self.doc if t.i in degree)]:
                chain, pobj = self._prep_chain(p)
                if p.i in degree:
                    chain = [degree[p.i], *chain]
                if pobj is None:
                    continue
                if p.lower_ in lx.TIME_PREPOSITIONS and pobj.lemma_.lower() in lx.TIME_NOUNS:
                    continue
                if pobj.lower_ in lx.DIRECTIONS and not any(g.dep_ == "amod" for g in pobj.children):
                    words.append(pobj.lower_)  # "moves to the left"
                    used_prep = p
                    break
                ident = self.entity_of(pobj, subject=False, exclude=agent)
                if ident is None:
                    continue
                words += chain
                targets.append(ident)
                used_prep = p
                break
        self._verb_facts(v, agent, targets[0] if targets else None, [p for p in preps if p is not used_prep])
        return " ".join(words), targets or [None]

    def _prep_chain(self, p: Any) -> tuple[list[str], Any | None]:
        """``out of the car`` -> (["out", "of"], car); ``in front of the house`` -> (["in", "front", "of"], house)."""
        chain = [p.lower_]
        cur = p
        for _ in range(3):
            pobj = next((g for g in cur.children if g.dep_ == "pobj"), None)
            if pobj is not None:
                inner = next((g for g in pobj.children if g.dep_ == "prep" and g.lower_ == "of"), None)
                if pobj.lemma_.lower() in _PART_NOUNS and inner is not None and pobj.lower_ not in lx.DIRECTIONS:
                    chain += [pobj.lower_, "of"]
                    cur = inner
                    continue
                return chain, pobj
            nested = next((g for g in cur.children if g.dep_ == "prep"), None)
            if nested is None:
                return chain, None
            chain.append(nested.lower_)
            cur = nested
        return chain, None

    def _verb_facts(self, v: Any, agent: str, target: str | None, preps: list[Any]) -> None:
        for p in preps:
            word = p.lower_
            if word not in lx.LOCATIVE_PREPOSITIONS and word != "with":
                continue
            _, pobj = self._prep_chain(p)
            if pobj is None or pobj.lemma_.lower() in lx.TIME_NOUNS:
                continue
            other = self.entity_of(pobj, subject=False, exclude=agent)
            if other is None:
                continue
            rel = lx.LOCATIVE_PREPOSITIONS.get(word, word)
            if target is not None and self.lemma(v) in lx.PLACEMENT_VERBS and word in lx.LOCATIVE_PREPOSITIONS:
                self.facts.append(SceneFact(target, rel, other, "result", len(self.events)))
            else:
                self.facts.append(SceneFact(agent, rel, other, "during", len(self.events)))

    # -- connectives ------------------------------------------------------------------------------
    def connective(self, v: Any, lo: int) -> tuple[str | None, str | None, bool]:
        """(connective, kind, subordinate) of the clause of ``v``, looked for in tokens ``[lo, v.i)``."""
        toks = [t for t in self.doc[lo : v.i] if not t.is_punct]
        lows = [t.lower_ for t in toks]
        found: tuple[str | None, str | None, bool] = (None, None, False)
        for k in range(len(toks)):
            for phrase, kind in ((p, "seq") for p in lx.SEQUENTIAL_PHRASES):
                if tuple(lows[k : k + len(phrase)]) == phrase and phrase[0] != "and":
                    found = (" ".join(phrase), kind, False)
            for phrase in lx.CONCURRENT_PHRASES:
                if tuple(lows[k : k + len(phrase)]) == phrase:
                    found = (" ".join(phrase), "conc", False)
        if found[0] is not None:
            return found
        for t in reversed(toks):
            low = t.lower_
            attached = (
                t.head.i == v.i
                or v.head.i == t.i
                or (t.head.i != t.i and t.head.head.i == v.i)
                or t.is_sent_start
                or low in lx.SEQUENTIAL
            )
            if not attached:
                continue
            if low in lx.SEQUENTIAL or low in lx.FIRST:
                return low, "seq", False
            if low in lx.CONCURRENT:
                if low == "as" and t.dep_ != "mark":
                    continue
                return low, "conc", low not in ("meanwhile", "simultaneously")
            if low in lx.PRECEDES:
                return low, "precedes", True
            if low in lx.FOLLOWS:
                if low == "since" and t.dep_ != "mark":
                    continue
                return low, "follows", True
        return None, None, False

    # -- main loop --------------------------------------------------------------------------------
    def trailing_concurrent(self, v: Any, hi: int) -> str | None:
        """A concurrency phrase after the verb: "the dog runs at the same time", "... simultaneously"."""
        lows = [t.lower_ for t in self.doc[v.i + 1 : hi]]
        for k in range(len(lows)):
            for phrase in lx.CONCURRENT_PHRASES:
                if tuple(lows[k : k + len(phrase)]) == phrase:
                    return " ".join(phrase)
            if lows[k] in ("simultaneously", "meanwhile"):
                return lows[k]
        return None

    def agents_of(self, v: Any, sent: Any) -> tuple[list[str], str | None, bool]:
        """(agents, passive patient that becomes the target, agentless passive)."""
        subj_tok, passive = self.subject_token(v)
        agents: list[str] = []
        if subj_tok is not None:
            siblings = [
                c
                for c in subj_tok.head.children
                if c.dep_ == subj_tok.dep_ and c.i > subj_tok.i and self.masks.get(c.i, c) is not None
            ]
            for tok in [subj_tok, *[c for c in subj_tok.conjuncts if c.i > subj_tok.i], *siblings]:
                ident = self.entity_of(tok, subject=True)
                if ident is not None:
                    agents.append(ident)
        if passive and agents:
            agent_tok = next((c for c in v.children if c.dep_ == "agent"), None)
            pobj = None if agent_tok is None else next((g for g in agent_tok.children if g.dep_ == "pobj"), None)
            real = None if pobj is None else self.entity_of(pobj, subject=True)
            if real is None:
                return agents, None, True
            return [real], agents[0], False
        if not agents:
            imperative = v.tag_ == "VB" and (v.i == sent.start or v.head.i == v.i)
            agents = [self.reg.agents[-1]] if self.reg.agents and not imperative else [self.reg.implicit()]
        return agents, None, False

    def is_fronted(self, v: Any, conn: str | None, lo: int, nxt: Any | None) -> bool:
        """Is the subordinate clause of ``v`` told before its main clause: ``"..., then before B, A"``
        (parsed as ``advcl`` of a later verb, or its connective opens a clause and a comma closes it)?"""
        if v.dep_ == "advcl" and v.head.i > v.i:
            return True
        if conn is None or nxt is None:
            return False
        word = conn.split()[0]
        at = next((t for t in reversed(self.doc[lo : v.i]) if t.lower_ == word), None)
        if at is None:
            return False
        opens = at.is_sent_start or self.doc[at.i - 1].lower_ in (",", "then", "and")
        return opens and any(t.text == "," for t in self.doc[v.i + 1 : nxt.i])

    def is_description(self, v: Any, verbs: list[Any]) -> bool:
        """``"a man wearing a hat plays"``: a stative participle/relative clause describing a noun that
        has an action elsewhere in the sentence is a static scene fact, not an event."""
        if v.dep_ not in ("acl", "relcl") or self.lemma(v) not in lx.STATIVE_VERBS:
            return False
        inside = {t.i for t in v.subtree}
        return any(w.i not in inside for w in verbs if w.i != v.i)

    def run(self) -> Analysis:
        self.resolve_all()
        sentences = list(self.doc.sents)
        group = 0
        for s_idx, sent in enumerate(sentences):
            verbs = [v for v in sent if self.is_event_verb(v)]
            prev_verb = sent.start
            for k, v in enumerate(verbs):
                agents, patient, agentless = self.agents_of(v, sent)
                if self.is_description(v, verbs):
                    for agent in agents:
                        pred, targets = self.predicate_and_target(v, agent, patient)
                        self.facts += [SceneFact(agent, pred, t, "static") for t in targets]
                    continue
                conn, kind, sub = self.connective(v, prev_verb)
                if conn is None:
                    hi = verbs[k + 1].i if k + 1 < len(verbs) else sent.end
                    conn = self.trailing_concurrent(v, hi)
                    kind = None if conn is None else "conc"
                for agent in agents:
                    if agentless:
                        pred, targets = "be " + v.lower_, [None]
                    else:
                        pred, targets = self.predicate_and_target(v, agent, patient)
                    for target in targets:
                        if target is not None:
                            self.reg.targets.append(target)
                        ev = ExtractedEvent(
                            agent, pred, target, self.lemma(v), s_idx, v.i, v.idx, group, conn, kind, sub
                        )
                        ev.fronted = sub and self.is_fronted(
                            v, conn, prev_verb, verbs[k + 1] if k + 1 < len(verbs) else None
                        )
                        ev.joined = (
                            conn is None
                            and k > 0
                            and any(t.lower_ == "and" for t in sent[prev_verb - sent.start : v.i - sent.start])
                        )
                        self.events.append(ev)
                    self.reg.agents.append(agent)
                group += 1
                prev_verb = v.i + 1
        _rename(self.events, self.facts, self.reg.resolve_kindless(self.default_kind))
        return Analysis(
            self.text,
            self.events,
            {i: self.reg.entity(i) for i in self.reg.label},
            self.facts,
            [(s.start_char, s.end_char) for s in sentences],
        )


_WS = re.compile(r"\s+")


def analyse_doc(
    nlp: Any,
    text: str,
    *,
    doc: Any | None = None,
    implicit_agent: str = "person",
    repair: bool = True,
    kind: Callable[[str], str] | None = None,
    default_kind: str | None = None,
) -> Analysis:
    """Read events, entities and scene facts from ``text`` (see the module docstring).

    Args:
        nlp: a spaCy pipeline with tagger, parser and lemmatiser.
        text: the caption or prompt.
        doc: ``nlp(text)`` if already computed (batch processing with ``nlp.pipe``).
        implicit_agent: label of the agent of imperative sentences ("chop the onions").
        repair: re-parse sentences whose subject spaCy glued to the verb (see the module docstring).
        kind: maps an entity label onto a closed set of kinds (``"ball"`` -> ``"circle"``) before mentions
            are merged (:meth:`dysen.rule_based.vocabulary.ClosedVocabulary.kind`); ``None``: labels as read.
        default_kind: the kind of an entity the text names only by a kind-less expression
            (``"the blue one"``) and never by its kind; ``None``: keep the expression's head (``one``).
    """
    text = _WS.sub(" ", text).strip()
    doc0 = doc if doc is not None else nlp(text)
    edits = _misread_verbs(doc0, _verb_index(nlp)) if repair else []
    if not edits:
        return _Analyser(doc0, text, {}, implicit_agent, _verb_index(nlp), kind, default_kind).run()
    fixed, where, shifts = _edited_text(doc0, edits)
    doc1 = nlp(fixed)
    # mentions of replaced phrases are built on the first parse (their internal structure is right)
    masks: dict[int, Mention | None] = {}
    for char, edit in where.items():
        span = doc1.char_span(char, char + 2)
        if span is None:
            continue
        if edit.start == edit.end:
            masks[span[0].i] = None  # an inserted subject: inherit the coordinated verb's subject
            continue
        pre, head = list(doc0[edit.start : edit.end - 1]), doc0[edit.end - 1]
        lows = [t.lower_ for t in pre]
        mention = None
        if "of" in lows and lows.index("of") > 0:  # "the bottle of water": the head is before "of"
            k = lows.index("of")
            inner = _mention_from_tokens(pre[k + 1 :], head, None)
            mention = _mention_from_tokens(pre[: k - 1], pre[k - 1], inner.label if inner else None)
        else:
            mention = _mention_from_tokens(pre, head, None)
        masks[span[0].i] = mention or Mention("object")
    analysis = _Analyser(doc1, text, masks, implicit_agent, _verb_index(nlp), kind, default_kind).run()
    analysis.reparsed = True

    def original(char: int) -> int:
        return char + sum(d for pos, d in shifts if pos < char)

    analysis.sentences = [(s.start_char, s.end_char) for s in doc0.sents]
    starts = [a for a, _ in analysis.sentences]
    for ev in analysis.events:
        ev.char = original(ev.char)
        ev.sentence = max(0, bisect.bisect_right(starts, ev.char) - 1)
    return analysis


def fold_colours(analysis: Analysis) -> Analysis:
    """Move colour attributes into entity labels and ids, in place: ``circle`` with ``red`` becomes
    ``red circle`` (the naming of the procedural world, where colours identify entities)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    table: dict[str, Entity] = {}
    for ident, ent in sorted(analysis.entities.items()):
        colours = [a for a in ent.attributes if a in lx.COLOURS]
        if not colours:
            continue
        label = " ".join([*colours, ent.label])
        new_id, k = label, 1
        while new_id in taken or (new_id in analysis.entities and new_id != ident):
            k += 1
            new_id = f"{label}#{k}"
        taken.add(new_id)
        mapping[ident] = new_id
        table[new_id] = Entity(new_id, label, tuple(a for a in ent.attributes if a not in lx.COLOURS))
    if not mapping:
        return analysis
    for ident, ent in analysis.entities.items():
        if ident not in mapping:
            table[ident] = ent
    analysis.entities = table
    _rename(analysis.events, analysis.facts, mapping)
    return analysis


def _rename(events: list[ExtractedEvent], facts: list[SceneFact], mapping: dict[str, str]) -> None:
    """Replace entity ids in events and scene facts, in place (ids not in ``mapping`` stay)."""
    for ev in events:
        ev.agent = mapping.get(ev.agent, ev.agent)
        ev.target = None if ev.target is None else mapping.get(ev.target, ev.target)
    for fact in facts:
        fact.subject = mapping.get(fact.subject, fact.subject)
        fact.object = None if fact.object is None else mapping.get(fact.object, fact.object)
