"""Per-frame scene graphs of the world, built the same way from gold states and from parsed videos.

Frame ``f`` of a world DSG holds:

* objects: the entities visible in ``f`` (opacity > 0), plus the participants of events active in ``f``
  (an entity about to appear is an object of the frame its ``appear`` starts in);
* attributes: each visible entity's current colour and size class (``("red circle", "blue")`` after it
  turned blue; the size class flips when a grow/shrink ends);
* relations: the triplets of the events active in ``f`` (paper §4.1, Step II: an event contributes its
  triplet to every frame of ``[start, end)``) and the spatial relations of
  :func:`~vdm.world.geometry.spatial_relations` (``left of``, ``above``, ``near``, ``touching``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dsg import DynamicSceneGraph, Event, Provenance, Relation, SceneGraph
from dsg.graph import Entity

from .geometry import SpatialRelations, spatial_relations
from .scene import Scene
from .vocabulary import SIZE_CLASSES

__all__ = ["build_frames", "gold_dsg"]


def build_frames(
    ids: Sequence[str],
    visible: np.ndarray,
    colours: Sequence[Sequence[str | None]],
    size_classes: np.ndarray,
    events: Sequence[Event],
    spatial: SpatialRelations,
) -> tuple[SceneGraph, ...]:
    """Scene graphs of ``F`` frames from per-frame entity facts (arrays ``(F, n)`` in the order of ``ids``).

    ``colours[f][i]`` is the colour name of entity ``i`` in frame ``f`` (``None`` when invisible);
    ``size_classes`` holds indices into :data:`~vdm.world.vocabulary.SIZE_CLASSES`. Identical
    consecutive frames share one :class:`~dsg.SceneGraph` object.
    """
    frames: list[SceneGraph] = []
    last_key = None
    relation_cache: dict[tuple[int, str, int], Relation] = {}

    def relation(i: int, pred: str, j: int) -> Relation:
        rel = relation_cache.get((i, pred, j))
        if rel is None:
            rel = relation_cache[(i, pred, j)] = Relation(ids[i], pred, ids[j])
        return rel

    actions = [ev.relation for ev in events]
    for f in range(visible.shape[0]):
        objs = tuple(ids[i] for i in np.nonzero(visible[f])[0])
        attrs = []
        for i in np.nonzero(visible[f])[0]:
            attrs.append((ids[i], colours[f][i]))
            attrs.append((ids[i], SIZE_CLASSES[int(size_classes[f, i])]))
        rels = [rel for rel, ev in zip(actions, events) if ev.start <= f < ev.end]
        rels += [relation(i, pred, j) for i, pred, j in spatial.triples(f)]
        key = (objs, tuple(attrs), tuple(rels))
        if key == last_key:
            frames.append(frames[-1])
            continue
        frames.append(SceneGraph(objs, tuple(attrs), tuple(rels)))
        last_key = key
    return tuple(frames)


def gold_dsg(scene: Scene, masks: np.ndarray | object, *, text: str | None = None) -> DynamicSceneGraph:
    """The gold frame-aligned DSG of a rendered scene (``masks``: its ``(F, n, H, W)`` entity masks)."""
    ids = [e.id for e in scene.entities]
    visible = scene.alpha > 0
    names = scene.config.colours
    colours = [[names[c] if v else None for c, v in zip(row_c, row_v)] for row_c, row_v in zip(scene.colour, visible)]
    spatial = spatial_relations(masks, scene.config.near_px)  # type: ignore[arg-type]
    frames = build_frames(ids, visible, colours, scene.size_class, scene.events, spatial)
    meta = (("seed", str(scene.seed)), ("difficulty", scene.difficulty.name))
    prov = Provenance("vdm.world", ("sample_scene", "render", "gold_dsg"), (), meta)
    entities = tuple(Entity(e.id, e.label) for e in scene.entities)
    return DynamicSceneGraph(frames, entities, text, "frame", scene.schedule, prov)
