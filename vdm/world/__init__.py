"""The procedural action world: videos with exact events, gold DSGs, captions, and a visual parser.

Quick start::

    from vdm.world import World, WorldConfig, Difficulty, WorldParser, score_video

    world = World(WorldConfig(height=32, width=32), difficulty=[1, 2, 3])
    sample = world.sample(seed=7)
    sample.video          # (16, 3, 32, 32) uint8
    sample.caption.text   # "The red circle moves left, then the blue square jumps."
    sample.dsg            # gold frame-aligned DynamicSceneGraph (events + left of/above/near/touching)
    WorldParser(world.config).parse(sample.video) == sample.dsg  # up to text and provenance

    score_video(generated_video, sample.schedule)  # TriRec, action faithfulness, event order

See ``docs/world.md``. This package imports neither diffusers nor transformers.
"""

from .captions import Caption, canonical_clause, caption_scene
from .config import Difficulty, WorldConfig
from .dataset import SPLITS, WorldDataset, collate_world
from .errors import SceneSamplingError, WorldConfigError, WorldError
from .geometry import ChangeThresholds, RunRules, fit_shape, shape_masks, spatial_relations
from .gold import build_frames, gold_dsg
from .parser import ParserSettings, VideoScores, WorldParser, score_video, score_videos
from .render import RenderedBatch, render, render_batch
from .sampler import sample_scene
from .scene import EntitySpec, Scene
from .vocabulary import (
    ACTION_FAMILIES,
    BINARY_ACTIONS,
    COLOURS,
    MOVE_DIRECTIONS,
    SHAPES,
    SIZE_CLASSES,
    SPATIAL_PREDICATES,
    UNARY_ACTIONS,
)
from .world import World, WorldSample

__all__ = [
    "ACTION_FAMILIES",
    "BINARY_ACTIONS",
    "COLOURS",
    "MOVE_DIRECTIONS",
    "SHAPES",
    "SIZE_CLASSES",
    "SPATIAL_PREDICATES",
    "SPLITS",
    "UNARY_ACTIONS",
    "Caption",
    "ChangeThresholds",
    "Difficulty",
    "EntitySpec",
    "ParserSettings",
    "RenderedBatch",
    "RunRules",
    "Scene",
    "SceneSamplingError",
    "VideoScores",
    "World",
    "WorldConfig",
    "WorldConfigError",
    "WorldDataset",
    "WorldError",
    "WorldParser",
    "WorldSample",
    "build_frames",
    "canonical_clause",
    "caption_scene",
    "collate_world",
    "fit_shape",
    "gold_dsg",
    "render",
    "render_batch",
    "sample_scene",
    "score_video",
    "score_videos",
    "shape_masks",
    "spatial_relations",
]
