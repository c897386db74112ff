"""The closed vocabulary of the procedural world: shapes, colours, sizes, action and spatial predicates.

Everything the world can render, say or parse is named here once, so that the renderer, the gold scene
graphs, the captions and the visual parser cannot drift apart.

Predicates are the labels used in event triplets (paper §4.1, Step I: ``(agent, event-predicate,
target, (start, end))``) and in the per-frame scene graphs (§3.2):

* unary actions: ``move left``, ``move right``, ``move up``, ``move down``, ``jump``, ``grow``,
  ``shrink``, ``rotate``, ``appear``, ``disappear``, ``turn <colour>`` (change colour);
* binary actions: ``approach`` and ``touch`` (the target is another entity);
* spatial relations derived from geometry in every frame: ``left of``, ``above``, ``near``,
  ``touching``.
"""

from __future__ import annotations

__all__ = [
    "ACTION_FAMILIES",
    "BINARY_ACTIONS",
    "COLOURS",
    "MOVE_DIRECTIONS",
    "SHAPES",
    "SIZE_CLASSES",
    "SPATIAL_PREDICATES",
    "UNARY_ACTIONS",
    "colour_of_turn",
    "is_turn",
    "turn_predicate",
]

#: Shapes the world draws. Each has the same nominal *size* ``s`` (a length in pixels); see
#: :mod:`vdm.world.geometry` for the exact outline of each.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

#: Saturated, well separated colours (RGB, 0-255). Six hues 60 degrees apart on the colour wheel, so that
#: colour segmentation by hue stays unambiguous under noise, blur and fades.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "green": (0, 255, 0),
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "magenta": (255, 0, 255),
}

#: Size classes at rest; ``grow`` turns a small entity into a large one and ``shrink`` the reverse.
SIZE_CLASSES: tuple[str, ...] = ("small", "large")

MOVE_DIRECTIONS: dict[str, tuple[float, float]] = {
    "move left": (-1.0, 0.0),
    "move right": (1.0, 0.0),
    "move up": (0.0, -1.0),  # image coordinates: y grows downwards
    "move down": (0.0, 1.0),
}

UNARY_ACTIONS: tuple[str, ...] = (*MOVE_DIRECTIONS, "jump", "grow", "shrink", "rotate", "appear", "disappear")
BINARY_ACTIONS: tuple[str, ...] = ("approach", "touch")

#: Action families the sampler chooses among (``turn`` expands to ``turn <colour>``).
ACTION_FAMILIES: tuple[str, ...] = (
    "move",
    "jump",
    "grow",
    "shrink",
    "rotate",
    "appear",
    "disappear",
    "approach",
    "touch",
    "turn",
)

SPATIAL_PREDICATES: tuple[str, ...] = ("left of", "above", "near", "touching")


def turn_predicate(colour: str) -> str:
    """The predicate of a colour change to ``colour``: ``"turn blue"``."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; the world's colours are {sorted(COLOURS)}")
    return f"turn {colour}"


def is_turn(predicate: str) -> bool:
    return predicate.startswith("turn ") and predicate[5:] in COLOURS


def colour_of_turn(predicate: str) -> str:
    """``"turn blue"`` -> ``"blue"``."""
    if not is_turn(predicate):
        raise ValueError(f"{predicate!r} is not a colour change predicate ('turn <colour>')")
    return predicate[5:]
