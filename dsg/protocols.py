"""Small protocols that let producers and consumers of DSGs meet without importing each other.

* :class:`Planner` — anything that turns text into an event schedule and a DSG (Dysen's planners, a
  user's own). The video model (:mod:`vdm`) takes a planner through this protocol only.
* :class:`VisualParser` — anything that reads a video back into a DSG (the procedural world's exact
  parser, a learned scene-graph parser); used by TriRec on generated videos.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .dynamic import DynamicSceneGraph
from .schedule import EventSchedule

__all__ = ["Planner", "VisualParser"]


@runtime_checkable
class Planner(Protocol):
    """Text -> :class:`EventSchedule` (Step I) -> :class:`DynamicSceneGraph` (Steps II and III)."""

    def schedule(self, text: str) -> EventSchedule:
        """Action planning: the events of ``text`` in physical order on the grid of *v*."""
        ...

    def plan(self, text: str) -> DynamicSceneGraph:
        """The full (possibly enriched) DSG of ``text``."""
        ...


@runtime_checkable
class VisualParser(Protocol):
    """Video -> DSG. ``video`` is a ``(F, H, W, C)`` or ``(F, C, H, W)`` array/tensor, uint8 or float."""

    def parse(self, video: Any) -> DynamicSceneGraph: ...
