"""Geometry shared by the renderer, the gold scene graphs and the visual parser.

One rasteriser (:func:`shape_masks`) draws every shape; the gold spatial relations and the parser's
relations are the *same* function (:func:`spatial_relations`) of per-entity pixel masks. That is what
makes the parser exact on clean renders: it only has to recover the masks (by colour segmentation),
and everything derived from them is computed identically on both sides.

Shapes have a nominal size ``s`` in pixels and an angle (degrees):

* circle: radius ``s``;
* square: half-side ``0.9 s`` (about the same area as the circle);
* triangle: equilateral, circumradius ``1.3 s``, pointing up at angle 0.

A pixel belongs to a shape when its centre lies inside the outline (hard edges, no anti-aliasing), so
masks are exact and the colour of every pixel is either the background or one entity's colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .vocabulary import SHAPES

__all__ = [
    "BOUNDING_RADIUS",
    "SHAPE_INDEX",
    "SYMMETRY",
    "ChangeThresholds",
    "MaskStats",
    "RunRules",
    "ShapeFit",
    "SpatialRelations",
    "boundary_distance",
    "fit_shape",
    "mask_stats",
    "nominal_area",
    "shape_masks",
    "spatial_relations",
    "step_changes",
]

SHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(SHAPES)}
_SQUARE_HALF = 0.9
_TRIANGLE_R = 1.3
#: Radius of the smallest circle around each shape, in units of its size ``s``.
BOUNDING_RADIUS: dict[str, float] = {"circle": 1.0, "square": _SQUARE_HALF * math.sqrt(2.0), "triangle": _TRIANGLE_R}
_AREA_FACTOR = {"circle": math.pi, "square": (2 * _SQUARE_HALF) ** 2, "triangle": 3 * math.sqrt(3) / 4 * _TRIANGLE_R**2}
#: Angle after which each shape looks the same again (degrees).
SYMMETRY: dict[str, float] = {"circle": 360.0, "square": 90.0, "triangle": 120.0}


def nominal_area(shape: str, size: float) -> float:
    """Area in pixels² of ``shape`` at size ``size`` (continuous, before rasterisation)."""
    return _AREA_FACTOR[shape] * size * size


def shape_masks(
    shape: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: np.ndarray,
    angle: np.ndarray,
    height: int,
    width: int,
    *,
    origin: tuple[float | np.ndarray, float | np.ndarray] = (0.0, 0.0),
) -> np.ndarray:
    """Rasterise shapes: boolean masks of shape ``(*batch, height, width)``.

    Args:
        shape: shape indices (:data:`SHAPE_INDEX`), any batch shape; the other arrays broadcast to it.
        x, y: centres in pixels (pixel ``(i, j)`` has its centre at ``(j + 0.5, i + 0.5)``; y grows down).
        size: nominal sizes in pixels; angle: degrees.
        origin: pixel coordinates ``(x0, y0)`` of the top-left corner of the raster, to draw into a crop;
            numbers or arrays of the batch shape (one crop per shape).

    NumPy on purpose: these are many small arrays, where torch's per-call overhead and intra-op threads
    cost more than they bring.
    """
    shape = np.asarray(shape)
    x, y, size, angle = (np.asarray(v, dtype=np.float32) for v in (x, y, size, angle))
    ox = np.asarray(origin[0], dtype=np.float32)[..., None, None]
    oy = np.asarray(origin[1], dtype=np.float32)[..., None, None]
    px = np.arange(width, dtype=np.float32) + np.float32(0.5)
    py = np.arange(height, dtype=np.float32)[:, None] + np.float32(0.5)
    dx = px + (ox - x[..., None, None])  # (..., 1, W)
    dy = py + (oy - y[..., None, None])  # (..., H, 1)
    rad = np.deg2rad(angle)[..., None, None]
    c, s = np.cos(rad), np.sin(rad)
    u = c * dx + s * dy
    v = -s * dx + c * dy
    sz = size[..., None, None]
    circle = dx * dx + dy * dy <= sz * sz
    square = np.maximum(np.abs(u), np.abs(v)) <= np.float32(_SQUARE_HALF) * sz
    apothem = np.float32(0.5 * _TRIANGLE_R) * sz
    k = np.float32(0.8660254)
    tri = np.maximum(np.maximum(v, -k * u - 0.5 * v), k * u - 0.5 * v) <= apothem
    shp = shape[..., None, None]
    return np.where(shp == 0, circle, np.where(shp == 1, square, tri))


@dataclass(frozen=True)
class MaskStats:
    """Per-mask area (pixels) and centroid (pixel coordinates); arrays of the masks' batch shape."""

    area: np.ndarray
    cx: np.ndarray
    cy: np.ndarray

    @property
    def visible(self) -> np.ndarray:
        return self.area > 0


def mask_stats(masks: np.ndarray) -> MaskStats:
    """Area and centroid of every mask in ``(*batch, H, W)``; centroids of empty masks are NaN."""
    m = np.asarray(masks, dtype=np.float64)
    h, w = m.shape[-2:]
    area = m.sum(axis=(-2, -1))
    sx = m.sum(axis=-2) @ (np.arange(w) + 0.5)
    sy = m.sum(axis=-1) @ (np.arange(h) + 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(area > 0, sx / area, np.nan)
        cy = np.where(area > 0, sy / area, np.nan)
    return MaskStats(area, cx, cy)


def _window_max(m: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Logical OR over ``[i - radius, i + radius]`` along ``axis`` (van Herk-style doubling, O(log r))."""
    n = m.shape[axis]
    pad = [(0, 0)] * m.ndim
    pad[axis] = (radius, radius)
    cur = np.pad(m, pad)  # False outside
    length, width = 2 * radius + 1, 1

    def take(arr: np.ndarray, start: int, count: int) -> np.ndarray:
        idx = [slice(None)] * arr.ndim
        idx[axis] = slice(start, start + count)
        return arr[tuple(idx)]

    while width * 2 <= length:
        cur = take(cur, 0, cur.shape[axis] - width) | take(cur, width, cur.shape[axis] - width)
        width *= 2
    # cur[i] now covers [i, i + width); two overlapping windows cover [i, i + length)
    return take(cur, 0, n) | take(cur, length - width, n)


def _dilate(m: np.ndarray, radius: int) -> np.ndarray:
    """Chebyshev dilation of ``(..., H, W)`` boolean masks by ``radius`` pixels (a separable square)."""
    return _window_max(_window_max(m, radius, m.ndim - 1), radius, m.ndim - 2)


@dataclass(frozen=True)
class SpatialRelations:
    """Boolean ``(F, n, n)`` arrays; ``left_of[f, i, j]``: entity ``i`` is left of ``j`` in frame ``f``.

    * ``left_of`` / ``above``: for each pair of visible entities exactly one of ``i left of j``,
      ``j left of i``, ``i above j``, ``j above i`` holds: the one along the dominant axis of the
      centroid offset (horizontal on ties), so "left of" means "more left than above or below".
    * ``touching``: the masks are 8-adjacent (Chebyshev distance 1) or overlap; symmetric.
    * ``near``: Chebyshev distance between the masks at most ``near_px``, but not touching; symmetric.
    """

    left_of: np.ndarray
    above: np.ndarray
    near: np.ndarray
    touching: np.ndarray

    def triples(self, frame: int) -> list[tuple[int, str, int]]:
        """``(i, predicate, j)`` of frame ``frame`` in a canonical order."""
        out = []
        for name, arr in (
            ("left of", self.left_of),
            ("above", self.above),
            ("near", self.near),
            ("touching", self.touching),
        ):
            for i, j in zip(*np.nonzero(arr[frame])):
                out.append((int(i), name, int(j)))
        return out


def spatial_relations(masks: np.ndarray, near_px: int) -> SpatialRelations:
    """Spatial relations of ``(F, n, H, W)`` boolean per-entity masks (empty mask = not visible)."""
    masks = np.asarray(masks, dtype=bool)
    f, n = masks.shape[:2]
    stats = mask_stats(masks)
    vis = stats.visible
    both = vis[:, :, None] & vis[:, None, :] & ~np.eye(n, dtype=bool)[None]
    dx = stats.cx[:, None, :] - stats.cx[:, :, None]  # cx_j - cx_i
    dy = stats.cy[:, None, :] - stats.cy[:, :, None]
    with np.errstate(invalid="ignore"):
        horiz = np.abs(dx) >= np.abs(dy)
        left_of = both & horiz & (dx > 0)
        above = both & ~horiz & (dy > 0)
    touch = np.zeros((f, n, n), dtype=bool)
    near = np.zeros((f, n, n), dtype=bool)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if both[:, i, j].any()]
    if pairs:
        # masks more than near_px apart along x or y (bounding boxes) cannot be near: skip their dilation
        close = _dilate(masks[:, [i for i, _ in pairs]], 1)
        wide = _dilate(masks[:, [i for i, _ in pairs]], near_px)
        for k, (i, j) in enumerate(pairs):
            t = (close[:, k] & masks[:, j]).any(axis=(-2, -1))
            w = (wide[:, k] & masks[:, j]).any(axis=(-2, -1))
            touch[:, i, j] = touch[:, j, i] = t & both[:, i, j]
            near[:, i, j] = near[:, j, i] = w & ~t & both[:, i, j]
    return SpatialRelations(left_of, above, near, touch)


@dataclass(frozen=True)
class ShapeFit:
    """Best explanation of a mask by one rasterised shape: the winner, its IoU, and each shape's best score."""

    shape: str
    size: float
    angle: float
    iou: float
    scores: dict[str, float]


def fit_shape(
    mask: np.ndarray,
    shapes: tuple[str, ...] = SHAPES,
    *,
    sizes: tuple[float, ...] = (),
    angle_step: float = 7.5,
    shifts: tuple[float, ...] = (-0.25, 0.0, 0.25),
) -> ShapeFit:
    """Analysis by synthesis: which shape, size and angle best redraws the ``(H, W)`` boolean ``mask``?

    Candidates are drawn with :func:`shape_masks` (the world's own rasteriser) and scored by their
    intersection-over-union with the mask:

    * size: solved from the mask's area (and ×0.94, ×1.06), plus each nominal size in ``sizes`` within
      15 % of it;
    * angle: multiples of ``angle_step`` degrees within the shape's symmetry period (the world turns
      shapes in steps of ``rotation_step``, so that step makes the search exact for its videos);
    * centre: the mask's centroid moved by each of ``shifts`` pixels in x and y (the centroid of a few
      dozen pixels is off the true centre by a fraction of a pixel).

    The score is the IoU less ``0.02 * |log(size / nominal)|`` for the nearest nominal size, which only
    breaks near-ties: a 5×5 block of pixels is both a square of the nominal small size and a slightly
    smaller circle, and in this world it is the square. Redrawing keeps this reliable on 32×32 frames,
    where moments or corner counts of a few dozen pixels are not.
    """
    mask = np.asarray(mask, dtype=bool)
    st = mask_stats(mask[None])
    area = float(st.area[0])
    if area <= 0:
        raise ValueError("cannot fit a shape to an empty mask")
    cx, cy = float(st.cx[0]), float(st.cy[0])
    ys, xs = np.nonzero(mask)
    pad = 3
    y0, y1 = int(ys.min()) - pad, int(ys.max()) + pad + 1
    x0, x1 = int(xs.min()) - pad, int(xs.max()) + pad + 1
    h, w = mask.shape
    crop = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    crop[sy0 - y0 : min(y1, h) - y0, sx0 - x0 : min(x1, w) - x0] = mask[sy0 : min(y1, h), sx0 : min(x1, w)]
    nominal = np.asarray(sizes, dtype=np.float64)

    def score(rows: list[tuple[float, float, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(rows, dtype=np.float32)
        cand = shape_masks(t[:, 0].astype(np.int64), t[:, 3], t[:, 4], t[:, 1], t[:, 2], *crop.shape, origin=(x0, y0))
        inter = (cand & crop).sum(axis=(-2, -1))
        union = np.maximum((cand | crop).sum(axis=(-2, -1)), 1)
        iou = inter / union
        if not len(nominal):
            return iou, iou
        size = t[:, 1:2].astype(np.float64)
        return iou, iou - 0.02 * np.abs(np.log(size / nominal[None])).min(axis=1)

    rows: list[tuple[float, float, float, float, float]] = []
    for name in shapes:
        base = math.sqrt(area / _AREA_FACTOR[name])
        steps = 1 if name == "circle" else max(1, round(SYMMETRY[name] / angle_step))
        angles = [SYMMETRY[name] * k / steps for k in range(steps)]
        cands = [base * scale for scale in (0.94, 1.0, 1.06)] + [v for v in sizes if abs(math.log(v / base)) < 0.15]
        rows += [(SHAPE_INDEX[name], size, ang, cx, cy) for size in cands for ang in angles]
    iou, total = score(rows)
    # refine: the three best unshifted candidates of each shape, at every shifted centre
    refined: list[tuple[float, float, float, float, float]] = []
    for idx in {int(r[0]) for r in rows}:
        mine = [k for k, r in enumerate(rows) if int(r[0]) == idx]
        for k in sorted(mine, key=lambda k: -total[k])[:3]:
            sh, size, ang = rows[k][:3]
            refined += [(sh, size, ang, cx + dx, cy + dy) for dx in shifts for dy in shifts if dx or dy]
    if refined:
        iou2, total2 = score(refined)
        rows, iou, total = rows + refined, np.concatenate([iou, iou2]), np.concatenate([total, total2])
    scores: dict[str, float] = {}
    for k, row in enumerate(rows):
        name = SHAPES[int(row[0])]
        scores[name] = max(scores.get(name, -1.0), float(total[k]))
    k = int(np.argmax(total))
    return ShapeFit(SHAPES[int(rows[k][0])], float(rows[k][1]), float(rows[k][2]), float(iou[k]), scores)


@dataclass(frozen=True)
class ChangeThresholds:
    """When does a frame step count as a change of an entity (used by the parser; the sampler keeps every
    event step above these by a margin, so that clean renders parse exactly).

    Args:
        move_px: centroid displacement, pixels.
        log_area: ``|log(area_{f+1} / area_f)|``.
        xor: pixels that changed (mask symmetric difference) divided by the area.
        alpha: opacity change.
    """

    move_px: float = 0.5
    log_area: float = 0.05
    xor: float = 0.10
    alpha: float = 0.05


@dataclass(frozen=True)
class RunRules:
    """How the parser names a run of changing steps (see :mod:`vdm.world.parser`); the sampler keeps
    events away from these boundaries by a margin.

    Args:
        travel_px: a run is a translation when the centroid gets this far from where it started.
        jump_net: a translation is a jump when it ends within this fraction of its largest excursion...
        jump_up: ...and that excursion goes up by at least this fraction of it.
        scale_log: a run is ``grow``/``shrink`` when ``|log(area_end / area_start)|`` reaches this.
        align_cos: a translation approaches/touches an entity when it heads at it within this cosine
            and ends near (or touching) it.
    """

    travel_px: float = 1.5
    jump_net: float = 0.35
    jump_up: float = 0.8
    scale_log: float = 0.25
    align_cos: float = 0.9


def step_changes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step change features of one entity's ``(T, H, W)`` masks (all non-empty).

    Returns ``(T - 1,)`` arrays: centroid displacement (pixels), ``log`` area ratio, and symmetric
    difference of consecutive masks divided by the earlier area.
    """
    masks = np.asarray(masks, dtype=bool)
    st = mask_stats(masks)
    dpos = np.hypot(np.diff(st.cx), np.diff(st.cy))
    dlog = np.diff(np.log(np.maximum(st.area, 1.0)))
    xor = (masks[1:] ^ masks[:-1]).sum(axis=(-2, -1)) / np.maximum(st.area[:-1], 1.0)
    return dpos, dlog, xor


def boundary_distance(shape: str, size: float, angle: float, ux: float, uy: float) -> float:
    """Distance from a shape's centre to its outline along the unit direction ``(ux, uy)`` (pixels)."""
    if shape == "circle":
        return size
    rad = math.radians(angle)
    c, s = math.cos(rad), math.sin(rad)
    u, v = c * ux + s * uy, -s * ux + c * uy
    if shape == "square":
        return _SQUARE_HALF * size / max(abs(u), abs(v))
    proj = max(v, -0.8660254 * u - 0.5 * v, 0.8660254 * u - 0.5 * v)
    return 0.5 * _TRIANGLE_R * size / proj
