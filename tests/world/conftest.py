"""Shared fixtures of the world tests: a small world (16 x 32 x 32) and samples at every level."""

from __future__ import annotations

import pytest

from vdm.world import Difficulty, World, WorldConfig

SMALL = WorldConfig(height=32, width=32)
LEVELS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="session")
def small_config() -> WorldConfig:
    return SMALL


@pytest.fixture(scope="session")
def samples_by_level() -> dict[int, list]:
    """8 samples per level at 32 x 32, rendered once for the whole session."""
    return {lv: World(SMALL, Difficulty.level(lv)).sample_batch(list(range(8))) for lv in LEVELS}
