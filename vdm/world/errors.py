"""Typed errors of the procedural world."""

from __future__ import annotations

__all__ = ["SceneSamplingError", "WorldConfigError", "WorldError"]


class WorldError(Exception):
    """Base class of every error raised by :mod:`vdm.world`."""


class WorldConfigError(WorldError, ValueError):
    """A :class:`~vdm.world.config.WorldConfig` or :class:`~vdm.world.config.Difficulty` is not valid."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field}: {value!r} ({reason})")


class SceneSamplingError(WorldError, RuntimeError):
    """No valid scene was found for a seed within the attempt budget (the knobs ask for too much)."""
