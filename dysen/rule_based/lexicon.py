"""Closed word lists used by the rule-based planner.

The lists are small on purpose: they carry the knowledge a dependency parse lacks (which adjectives are
colours, which pronouns refer to people, which connectives order events, which verbs describe motion
towards a target). Extend them by passing your own sets to :class:`~dysen.rule_based.RuleBasedPlanner`
only if you must; most captions need nothing more.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """A word set written as one whitespace-separated string."""
    return frozenset(text.split())


COLOURS = _words(
    "red orange yellow green blue purple violet pink brown black white grey gray silver gold golden "
    "beige cyan magenta teal navy maroon turquoise"
)
SIZES = _words("small large big tiny little huge giant tall short long wide narrow thin fat")
LARGE_SIZES = _words("large big huge giant")
SMALL_SIZES = _words("small tiny little")
"""Size words by polarity: two words of one polarity ("tiny", "little") do not tell two entities apart."""
ATTRIBUTE_WORDS = COLOURS | SIZES
"""Modifiers that are attributes even where the tagger calls them nouns or proper nouns ("red circle")."""

DIRECTIONS = _words(
    "left right up down upward upwards downward downwards forward forwards backward backwards back away "
    "around aside along across over off out in inside outside home ahead sideways clockwise "
    "counterclockwise anticlockwise"
)
"""Adverbs folded into the predicate: "moves left" -> ``move left``."""

PERSON_NOUNS = _words(
    """man woman men women boy girl boys girls person people lady ladies guy guys child children kid kids
    baby player players chef cook teacher student students worker workers dancer dancers athlete
    athletes gymnast singer musician drummer guitarist rider runner swimmer skier surfer skater boxer
    wrestler coach crowd audience friend friends mother father mom dad son daughter brother sister wife
    husband family couple team teams gentleman individual someone somebody he she they santa claus
    toddler teen teenager adult group officer doctor nurse host reporter"""
)

PERSON_PRONOUNS = _words("he she him her himself herself someone somebody")
NEUTRAL_PRONOUNS = _words("they them themselves")
THING_PRONOUNS = _words("it itself")
RELATIVE_PRONOUNS = _words("who whom which that")
REFERRING_HEADS = _words("one shape thing object figure")
"""Head nouns of referring expressions that name no kind: "the red one", "the small shape" are an entity
mentioned before that has those attributes."""
NEW_ENTITY_DETERMINERS = _words("another other second third")

# Temporal connectives (paper §4.1, Step I decides "the possible event occurrence order").
SEQUENTIAL = _words("then afterwards afterward next later subsequently finally eventually lastly soon thereafter")
SEQUENTIAL_PHRASES = (
    ("after", "that"),
    ("after", "this"),
    ("after", "which"),
    ("and", "then"),
    ("right", "after"),
    ("soon", "after"),
)
CONCURRENT = _words("while as meanwhile simultaneously whilst during")
CONCURRENT_PHRASES = (("at", "the", "same", "time"), ("in", "the", "meantime"), ("at", "once"))
PRECEDES = frozenset(["before", "until", "till"])
"""``X <c> Y``: X happens first. Fronted (``<c> Y, X``) the main clause still comes first."""
FOLLOWS = frozenset(["after", "when", "once", "since"])
"""``X <c> Y``: Y happens first. Fronted (``<c> Y, X``) the subordinate clause comes first."""
FIRST = frozenset(["first", "firstly", "initially"])

# Verbs.
LIGHT_VERBS = _words(
    "see show begin start continue keep proceed try seem appear go stop finish get want need attempt manage decide"
)
"""Verbs that are transparent when they govern another verb ("is seen speaking", "begins to dance")."""
STATIVE_VERBS = _words("sit stand lie wear hold carry wait sleep stay remain rest hang kneel lean")
"""Background states: with plain coordination ("sits on a chair and drinks coffee") they last while the
following actions of the same sentence happen (paper Fig. 3: sitting spans drinking and greeting)."""
MOTION_TO_VERBS = _words(
    "approach go walk run move come head reach enter arrive return climb rush drive ride swim fly crawl "
    "step travel hurry roll jump hop slide skate dash race follow chase"
)
"""Verbs of motion towards a target: imagined as the chain ``approach -> near -> at`` (paper §4.1)."""
CONTACT_VERBS = _words(
    "touch hit kick push pull grab pick sit stand lie hug kiss open close catch lift take press knock tap "
    "punch pet bump collide grasp shake climb mount board"
)
"""Verbs that need the agent next to the target first: chain ``approach -> near -> <predicate>``."""
PLACEMENT_VERBS = _words(
    "put place pour add drop throw toss insert set move transfer lay load stuff dump sprinkle spread "
    "hang stick slide push pull"
)
"""Verbs whose prepositional phrase is where the object ends up ("puts a bottle in the bag")."""
LOCATIVE_PREPOSITIONS = {
    "in": "in",
    "into": "in",
    "inside": "in",
    "on": "on",
    "onto": "on",
    "upon": "on",
    "under": "under",
    "beneath": "under",
    "below": "under",
    "over": "over",
    "above": "above",
    "to": "at",
    "towards": "near",
    "toward": "near",
    "at": "at",
    "near": "near",
    "beside": "next to",
    "behind": "behind",
    "across": "across",
    "through": "through",
}
"""Preposition of a locative phrase -> relation of the result state ("into the bag" -> ``in``)."""
TIME_PREPOSITIONS = _words("for during after before until till since at by within throughout")
"""Prepositions that never join a verb into a prepositional predicate when their object is a time."""
TIME_NOUNS = _words(
    "time times second seconds minute minutes hour hours day days night morning evening afternoon while "
    "moment end beginning start rest way"
)
