"""Knobs of the procedural world: what it looks like (:class:`WorldConfig`) and how hard a sample is
(:class:`Difficulty`, with six presets, :meth:`Difficulty.level`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .errors import WorldConfigError
from .vocabulary import ACTION_FAMILIES, COLOURS, SHAPES

__all__ = ["DETAILS", "Difficulty", "WorldConfig"]

DETAILS: tuple[str, ...] = ("short", "medium", "long")


def _range(name: str, value: tuple[int, int], lo: int) -> tuple[int, int]:
    if not (isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise WorldConfigError(name, value, "must be an inclusive (min, max) pair of integers")
    a, b = value
    if a < lo or b < a:
        raise WorldConfigError(name, value, f"needs {lo} <= min <= max")
    return int(a), int(b)


@dataclass(frozen=True)
class WorldConfig:
    """How the world looks and moves. Lengths given as fractions are fractions of ``min(height, width)``.

    Args:
        num_frames: frames per video ``F`` (the paper samples 16 keyframes).
        height, width: frame size in pixels, 8 to 256.
        background: plain background colour (RGB, 0-255).
        colours: palette names (subset of :data:`~vdm.world.vocabulary.COLOURS`); every entity has its own
            colour, unique over the whole video (colour changes go to unused colours only), which is what
            lets the parser identify entities by colour.
        shapes: shapes to draw (subset of :data:`~vdm.world.vocabulary.SHAPES`).
        small_size, large_size: nominal size ``s`` of small and large entities; ``grow`` takes small to
            large and ``shrink`` large to small.
        near_fraction: two entities are *near* when their pixel masks are within this Chebyshev distance.
        actions: action families the sampler may use (see :data:`~vdm.world.vocabulary.ACTION_FAMILIES`).
        min_event_frames, max_event_frames: duration range of an event, in frame steps;
            ``max_event_frames=None`` picks ``clamp(round(0.4 * (F - 1)), 2, 8)``.
        speed: range of translation speeds per frame step (fraction of the frame).
        min_step_px: every changing step moves, scales or turns an entity by at least this many pixels, so
            that the change is visible at the render resolution (and the parser sees it).
        rotation_step: degrees turned per frame step by ``rotate``.
    """

    num_frames: int = 16
    height: int = 64
    width: int = 64
    background: tuple[int, int, int] = (0, 0, 0)
    colours: tuple[str, ...] = tuple(COLOURS)
    shapes: tuple[str, ...] = SHAPES
    small_size: float = 0.10
    large_size: float = 0.15
    near_fraction: float = 0.12
    actions: tuple[str, ...] = ACTION_FAMILIES
    min_event_frames: int = 2
    max_event_frames: int | None = None
    speed: tuple[float, float] = (0.04, 0.065)
    min_step_px: float = 1.5
    rotation_step: float = 30.0

    def __post_init__(self) -> None:
        for name in ("num_frames", "height", "width", "min_event_frames"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int):
                raise WorldConfigError(name, val, "must be an integer")
        if self.num_frames < 3:
            raise WorldConfigError("num_frames", self.num_frames, "must be >= 3")
        for name in ("height", "width"):
            if not 8 <= getattr(self, name) <= 256:
                raise WorldConfigError(name, getattr(self, name), "must be between 8 and 256 pixels")
        bg = tuple(self.background)
        if len(bg) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in bg):
            raise WorldConfigError("background", self.background, "must be an RGB triple of integers in 0..255")
        object.__setattr__(self, "background", bg)
        for name, allowed in (("colours", COLOURS), ("shapes", SHAPES), ("actions", ACTION_FAMILIES)):
            val = tuple(getattr(self, name))
            bad = [v for v in val if v not in allowed]
            if bad or not val or len(set(val)) != len(val):
                raise WorldConfigError(name, val, f"must be distinct names from {list(allowed)}")
            object.__setattr__(self, name, val)
        for c in self.colours:
            dist = math.dist(COLOURS[c], bg)
            if dist < 150:
                raise WorldConfigError("background", bg, f"too close to the colour {c!r} to segment it")
        if not 0.03 <= self.small_size < self.large_size <= 0.3:
            raise WorldConfigError(
                "small_size/large_size", (self.small_size, self.large_size), "need 0.03 <= small < large <= 0.3"
            )
        if not 0.0 < self.near_fraction <= 0.5:
            raise WorldConfigError("near_fraction", self.near_fraction, "must be in (0, 0.5]")
        if self.min_event_frames < 2:
            raise WorldConfigError("min_event_frames", self.min_event_frames, "must be >= 2 (a change needs two steps)")
        if self.max_event_frames is not None and self.max_event_frames < self.min_event_frames:
            raise WorldConfigError("max_event_frames", self.max_event_frames, "must be >= min_event_frames")
        lo, hi = self.speed
        if not 0 < lo <= hi:
            raise WorldConfigError("speed", self.speed, "must be 0 < min <= max")
        if not 5.0 <= self.rotation_step <= 60.0:
            raise WorldConfigError("rotation_step", self.rotation_step, "must be in [5, 60] degrees")

    # -- derived lengths, in pixels ---------------------------------------------------------------
    @property
    def unit(self) -> float:
        """Pixels per unit length: ``min(height, width)``."""
        return float(min(self.height, self.width))

    @property
    def size_px(self) -> dict[str, float]:
        return {"small": self.small_size * self.unit, "large": self.large_size * self.unit}

    @property
    def near_px(self) -> int:
        """Chebyshev pixel distance under which two masks are *near* (at least 2)."""
        return max(2, round(self.near_fraction * self.unit))

    @property
    def steps(self) -> int:
        """Number of frame-to-frame steps events can use: ``F - 1``."""
        return self.num_frames - 1

    @property
    def event_frames(self) -> tuple[int, int]:
        hi = self.max_event_frames
        if hi is None:
            hi = min(8, max(2, round(0.4 * self.steps)))
        return self.min_event_frames, max(self.min_event_frames, hi)

    def replace(self, **changes: object) -> WorldConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class Difficulty:
    """How hard a sample is: the events (count, concurrency, actors) and the caption's language.

    Args:
        num_events: inclusive range of the number of events (1-6 in the presets).
        max_concurrency: most events active at the same frame (1 = strictly sequential).
        num_entities: inclusive range of the number of entities (raised when concurrency needs more actors).
        synonyms: vary verbs and nouns ("slides to the left", "ball") instead of the canonical words.
        referring: vary referring expressions ("the small red one", "the circle") instead of always
            "the <colour> <shape>".
        reorder: probability that two consecutive groups of events are mentioned out of physical order
            ("Before the blue square jumps, the red circle moves left").
        pronouns: refer to the previous clause's subject with "it".
        connectives: ``"plain"`` ("then" only) or ``"varied"`` (then, after that, while, meanwhile, until, ...).
        detail: caption length: ``"short"`` (events only), ``"medium"`` (+ the cast), ``"long"`` (+ where
            things are at the start).
        name: label of the preset, if any.
    """

    num_events: tuple[int, int] = (1, 1)
    max_concurrency: int = 1
    num_entities: tuple[int, int] = (1, 2)
    synonyms: bool = False
    referring: bool = False
    reorder: float = 0.0
    pronouns: bool = False
    connectives: str = "plain"
    detail: str = "short"
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_events", _range("num_events", self.num_events, 1))
        object.__setattr__(self, "num_entities", _range("num_entities", self.num_entities, 1))
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise WorldConfigError("max_concurrency", self.max_concurrency, "must be a positive integer")
        if not 0.0 <= float(self.reorder) <= 1.0:
            raise WorldConfigError("reorder", self.reorder, "must be a probability")
        if self.connectives not in ("plain", "varied"):
            raise WorldConfigError("connectives", self.connectives, "must be 'plain' or 'varied'")
        if self.detail not in DETAILS:
            raise WorldConfigError("detail", self.detail, f"must be one of {DETAILS}")

    @property
    def is_easy(self) -> bool:
        """Plain language: canonical words, "then" only, physical mention order, no pronouns, no concurrency.

        Captions at this level are written so that a rule-based planner can parse them back.
        """
        return (
            not (self.synonyms or self.referring or self.pronouns or self.reorder > 0)
            and self.connectives == "plain"
            and self.max_concurrency == 1
        )

    @classmethod
    def level(cls, k: int) -> Difficulty:
        """Presets 1-6; levels 1-3 are *easy* (see :attr:`is_easy`).

        ====  ======  ===========  ========  =====================================================
        k     events  concurrency  entities  language
        ====  ======  ===========  ========  =====================================================
        1     1       1            1-2       canonical, "the red circle moves left."
        2     2       1            1-3       canonical, "then"
        3     3       1            2-3       canonical, "then"
        4     3-4     2            2-3       synonyms, referring expressions, while/meanwhile, cast
        5     4-5     2            3-4       + mention order != physical order, pronouns, until
        6     5-6     3            3-4       + long captions (initial layout)
        ====  ======  ===========  ========  =====================================================
        """
        presets = {
            1: cls((1, 1), 1, (1, 2)),
            2: cls((2, 2), 1, (1, 3)),
            3: cls((3, 3), 1, (2, 3)),
            4: cls((3, 4), 2, (2, 3), True, True, 0.0, False, "varied", "medium"),
            5: cls((4, 5), 2, (3, 4), True, True, 0.5, True, "varied", "medium"),
            6: cls((5, 6), 3, (3, 4), True, True, 0.5, True, "varied", "long"),
        }
        if k not in presets:
            raise WorldConfigError("level", k, "must be 1, 2, 3, 4, 5 or 6")
        return replace(presets[k], name=f"level{k}")
