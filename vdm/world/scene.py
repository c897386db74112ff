"""A sampled scene: its entities, its events (the gold schedule) and every entity's state in every frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsg import Entity, Event, EventSchedule

from .config import Difficulty, WorldConfig

__all__ = ["EntitySpec", "Scene"]


@dataclass(frozen=True)
class EntitySpec:
    """One entity as it is when first seen: shape, colour and size class.

    Its id and label are ``"<colour> <shape>"`` (``"red circle"``): colours are unique over the whole video,
    so the initial colour names the entity for good, even after it turns another colour, and label-level
    triplets (TriRec, paper eq. 7) tell the red circle from the blue one. Current colour and size class
    are per-frame attributes of the DSG. (A planner reads "the red circle" this way with
    ``dysen.RuleBasedPlanner(colour_in_label=True)``.)
    """

    shape: str
    colour: str
    size: str

    @property
    def id(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def label(self) -> str:
        return self.id

    def to_entity(self) -> Entity:
        return Entity(self.id, self.label)


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything needed to render a video and write its gold DSG and caption.

    Event intervals are half-open ``[start, end)`` on the frame grid: an event active at frame ``f``
    changes its agent between frames ``f`` and ``f + 1``, so frame ``start`` shows the state before the
    event and frame ``end`` the state after it (``end <= F - 1``).

    State arrays have shape ``(F, n)`` (frame, entity, in the order of :attr:`entities`): centre ``x``,
    ``y`` and nominal ``size`` in pixels, ``angle`` in degrees, ``colour`` as an index into
    ``config.colours``, opacity ``alpha`` in ``[0, 1]`` (0 = invisible), and the size class at rest
    ``size_class`` (0 small, 1 large; it flips when a grow or shrink event ends).
    """

    config: WorldConfig
    difficulty: Difficulty
    entities: tuple[EntitySpec, ...]
    events: tuple[Event, ...]
    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    angle: np.ndarray
    colour: np.ndarray
    alpha: np.ndarray
    size_class: np.ndarray
    seed: int | None = None

    @property
    def num_frames(self) -> int:
        return self.config.num_frames

    @property
    def schedule(self) -> EventSchedule:
        """The gold event schedule (time unit ``"frame"``)."""
        return EventSchedule(self.events, "frame", tuple(e.to_entity() for e in self.entities))

    def index(self, entity_id: str) -> int:
        for i, e in enumerate(self.entities):
            if e.id == entity_id:
                return i
        raise KeyError(entity_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scene):
            return NotImplemented
        arrays = ("x", "y", "size", "angle", "colour", "alpha", "size_class")
        return (
            self.config == other.config
            and self.entities == other.entities
            and self.events == other.events
            and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
        )

    __hash__ = None  # type: ignore[assignment]
