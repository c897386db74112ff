"""Sample a scene: entities, a timed event schedule and every entity's state in every frame.

The sampler works in three stages, all driven by one ``numpy`` generator so that a seed fixes the scene:

1. **Time layout.** The events are grouped into *beats*: groups of up to ``max_concurrency`` events that
   overlap in time (the first event of a beat spans the whole beat, the others start and end inside it),
   beats follow each other with gaps of 0-2 frames. Durations are ``config.event_frames`` steps.
2. **Cast and actions.** Entities get distinct colours, shapes and size classes and non-overlapping
   places. Events are then given an agent, an action and (for ``approach``/``touch``) a target in
   start order, under the rules the visual parser relies on:

   * an entity does one thing at a time, with at least one still frame between two of its events;
   * the target of ``approach``/``touch`` stays still while it is approached;
   * an ``appear`` is an entity's first involvement (it is invisible until then), nothing happens to an
     entity after it ``disappear``s, colour changes go to colours no entity ever had;
   * no two entities ever overlap (touching is allowed), every entity stays inside the frame;
   * every step of an event changes the agent visibly at the render resolution (movement of at least
     ``min_step_px`` pixels, mask changes above :class:`~vdm.world.geometry.ChangeThresholds` with a
     margin), so the change can be seen and parsed back;
   * a move or an approach never heads straight at a third entity it ends up near (which would read as
     an approach of that entity).

   Each event is tried a few times with fresh choices; a scene that cannot be completed is re-sampled.
3. **States.** Each event writes its agent's trajectory for its frames; the end state then holds until
   the agent's next event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsg import Event

from .config import Difficulty, WorldConfig
from .errors import SceneSamplingError, WorldConfigError
from .geometry import (
    BOUNDING_RADIUS,
    SHAPE_INDEX,
    ChangeThresholds,
    RunRules,
    boundary_distance,
    mask_stats,
    shape_masks,
    spatial_relations,
    step_changes,
)
from .scene import EntitySpec, Scene
from .vocabulary import MOVE_DIRECTIONS, turn_predicate

__all__ = ["sample_scene"]

#: The sampler keeps every event step this many times above the parser's change thresholds.
MARGIN = 1.5
RUN_RULES = RunRules()
#: A translation heading within this cosine of a third entity's direction must not end near it.
ALIGN_COS = 0.85
#: Fade depth of a colour change (the entity dims to this opacity, switches colour, brightens again).
TURN_ALPHA = 0.4
_TRIES_PER_EVENT = 24
#: How often each action family is picked when it is possible (moves are the most common in captions).
FAMILY_WEIGHTS: dict[str, float] = {
    "move": 2.0,
    "jump": 1.0,
    "grow": 0.8,
    "shrink": 0.8,
    "rotate": 1.0,
    "appear": 0.6,
    "disappear": 0.6,
    "approach": 1.0,
    "touch": 1.0,
    "turn": 0.8,
}


class _Reject(Exception):
    """This attempt cannot be completed; start the scene again."""


def sample_scene(
    seed: int | np.random.SeedSequence | np.random.Generator,
    config: WorldConfig | None = None,
    difficulty: Difficulty | None = None,
    *,
    max_attempts: int = 200,
) -> Scene:
    """Sample one scene. The same ``seed``, ``config`` and ``difficulty`` give the same scene.

    Raises:
        WorldConfigError: the knobs cannot be satisfied at all (too many events for the frames, ...).
        SceneSamplingError: no valid scene was found in ``max_attempts`` attempts.
    """
    config = config or WorldConfig()
    difficulty = difficulty or Difficulty.level(1)
    _check_feasible(config, difficulty)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    plain_seed = seed if isinstance(seed, int) else None
    for _ in range(max_attempts):
        try:
            return _Builder(rng, config, difficulty).build(plain_seed)
        except _Reject:
            continue
    raise SceneSamplingError(
        f"no valid scene in {max_attempts} attempts for seed={seed!r} with {difficulty} at "
        f"{config.num_frames}x{config.height}x{config.width}; relax the difficulty or enlarge the frames"
    )


def _check_feasible(cfg: WorldConfig, diff: Difficulty) -> None:
    dmin, _ = cfg.event_frames
    most = diff.num_events[1]
    beats = math.ceil(most / diff.max_concurrency)
    if beats * dmin > cfg.steps:
        raise WorldConfigError(
            "difficulty.num_events",
            diff.num_events,
            f"{most} events with concurrency {diff.max_concurrency} need {beats * dmin} frame steps, "
            f"only {cfg.steps} available with num_frames={cfg.num_frames}",
        )
    if max(diff.num_entities[0], diff.max_concurrency if most > 1 else 1) > len(cfg.colours):
        raise WorldConfigError("difficulty.num_entities", diff.num_entities, f"only {len(cfg.colours)} colours")


@dataclass
class _Track:
    """Bookkeeping of one entity while events are assigned."""

    busy: list[tuple[int, int]] = field(default_factory=list)  # its own events
    held: list[tuple[int, int]] = field(default_factory=list)  # intervals it must stay still (a target)
    involved: bool = False
    gone_at: int | None = None  # frame from which it has disappeared

    def free(self, s: int, e: int) -> bool:
        """Can it act during [s, e), keeping a still frame before and after its other events?"""
        return all(e0 < s or s0 > e for s0, e0 in self.busy) and all(e0 <= s or s0 >= e for s0, e0 in self.held)

    def still(self, s: int, e: int) -> bool:
        """Is it free of own events during [s, e) (so it can be a target)?"""
        return all(e0 <= s or s0 >= e for s0, e0 in self.busy)


class _Builder:
    def __init__(self, rng: np.random.Generator, cfg: WorldConfig, diff: Difficulty) -> None:
        self.rng, self.cfg, self.diff = rng, cfg, diff
        self.F, self.H, self.W = cfg.num_frames, cfg.height, cfg.width
        self.thr = ChangeThresholds()

    # -- stage 1: time layout ----------------------------------------------------------------------
    def _beats(self, n_events: int) -> list[int]:
        conc, rng = self.diff.max_concurrency, self.rng
        dmin = self.cfg.event_frames[0]
        sizes: list[int] = []
        left = n_events
        while left:
            k = int(rng.integers(1, min(conc, left) + 1))
            sizes.append(k)
            left -= k
        while len(sizes) * dmin > self.cfg.steps:  # merge beats to fit (allowed by _check_feasible)
            i = int(np.argmin(sizes))
            j = i + 1 if i + 1 < len(sizes) else i - 1
            if sizes[i] + sizes[j] > conc:
                raise _Reject
            sizes[j] += sizes.pop(i)
        return sizes

    def _layout(self, beats: list[int]) -> list[tuple[int, int]]:
        rng, (dmin, dmax) = self.rng, self.cfg.event_frames
        lengths = [int(v) for v in rng.integers(dmin, dmax + 1, size=len(beats))]
        while sum(lengths) > self.cfg.steps:
            i = int(rng.choice([k for k, v in enumerate(lengths) if v > dmin]))
            lengths[i] -= 1
        slack = self.cfg.steps - sum(lengths)
        t = int(rng.integers(0, min(2, slack) + 1))
        slack -= t
        intervals: list[tuple[int, int]] = []
        for b, (size, length) in enumerate(zip(beats, lengths)):
            b0, b1 = t, t + length
            intervals.append((b0, b1))
            for _ in range(size - 1):
                s = int(rng.integers(b0, b1 - dmin + 1))
                e = int(rng.integers(s + dmin, b1 + 1))
                intervals.append((s, e))
            if b + 1 < len(beats):
                gap = int(rng.integers(0, min(2, slack) + 1))
                slack -= gap
                t = b1 + gap
        return sorted(intervals)

    # -- stage 2: cast ------------------------------------------------------------------------------
    def _cast(self, n: int) -> None:
        rng, cfg = self.rng, self.cfg
        colours = [str(c) for c in rng.permutation(np.array(cfg.colours))[:n]]
        shapes = [str(rng.choice(np.array(cfg.shapes))) for _ in range(n)]
        sizes = [("small", "large")[int(rng.integers(0, 2))] for _ in range(n)]
        self.specs = [EntitySpec(sh, co, si) for sh, co, si in zip(shapes, colours, sizes)]
        self.used_colours = set(colours)
        px = cfg.size_px
        s0 = np.array([px[si] for si in sizes])
        rad = np.array([BOUNDING_RADIUS[sh] for sh in shapes]) * s0
        pos: list[tuple[float, float]] = []
        for i in range(n):
            for _ in range(200):
                x = rng.uniform(rad[i] + 1.0, self.W - rad[i] - 1.0)
                y = rng.uniform(rad[i] + 1.0, self.H - rad[i] - 1.0)
                if all(math.hypot(x - px_, y - py_) > rad[i] + rad[j] + 2.0 for j, (px_, py_) in enumerate(pos)):
                    pos.append((x, y))
                    break
            else:
                raise _Reject
        F = self.F
        self.x = np.tile(np.array([p[0] for p in pos]), (F, 1))
        self.y = np.tile(np.array([p[1] for p in pos]), (F, 1))
        self.size = np.tile(s0, (F, 1))
        self.angle = np.zeros((F, n))
        self.colour = np.tile(np.array([cfg.colours.index(c) for c in colours]), (F, 1))
        self.alpha = np.ones((F, n))
        self.size_class = np.tile(np.array([int(si == "large") for si in sizes]), (F, 1))
        self.shape_idx = np.array([SHAPE_INDEX[sh] for sh in shapes])
        self.tracks = [_Track() for _ in range(n)]

    # -- rasterisation helpers ---------------------------------------------------------------------
    def _masks(self, i: int, frames: np.ndarray, state: dict[str, np.ndarray] | None = None) -> np.ndarray:
        st = state or {"x": self.x[:, i], "y": self.y[:, i], "size": self.size[:, i], "angle": self.angle[:, i]}
        return shape_masks(
            np.full(len(frames), int(self.shape_idx[i])),
            st["x"][frames],
            st["y"][frames],
            st["size"][frames],
            st["angle"][frames],
            self.H,
            self.W,
        )

    def _radius(self, i: int, size: np.ndarray) -> np.ndarray:
        return BOUNDING_RADIUS[self.specs[i].shape] * size

    # -- stage 2: events ---------------------------------------------------------------------------
    def build(self, seed: int | None) -> Scene:
        rng, diff = self.rng, self.diff
        n_events = int(rng.integers(diff.num_events[0], diff.num_events[1] + 1))
        beats = self._beats(n_events)
        lo = max(diff.num_entities[0], max(beats))
        hi = min(max(lo, diff.num_entities[1]), len(self.cfg.colours))
        if lo > hi:
            raise _Reject
        self._cast(int(rng.integers(lo, hi + 1)))
        self.events: list[Event] = []
        for s, e in self._layout(beats):
            self._add_event(s, e)
        return Scene(
            self.cfg,
            self.diff,
            tuple(self.specs),
            tuple(sorted(self.events, key=Event.sort_key)),
            self.x.astype(np.float32),
            self.y.astype(np.float32),
            self.size.astype(np.float32),
            self.angle.astype(np.float32),
            self.colour.astype(np.int64),
            self.alpha.astype(np.float32),
            self.size_class.astype(np.int64),
            seed,
        )

    def _families(self, i: int, s: int, e: int) -> list[str]:
        tr, spec, allowed = self.tracks[i], self.specs[i], self.cfg.actions
        if tr.gone_at is not None or not tr.free(s, e):
            return []
        out: list[str] = []
        if not tr.involved and "appear" in allowed:
            out.append("appear")
        if self.alpha[s, i] < 1.0:  # hidden until a later appear: nothing else yet
            return out
        for fam in ("move", "jump", "disappear", "approach", "touch"):
            if fam in allowed:
                out.append(fam)
        if "rotate" in allowed and spec.shape != "circle":
            out.append("rotate")
        if "grow" in allowed and self.size_class[s, i] == 0:
            out.append("grow")
        if "shrink" in allowed and self.size_class[s, i] == 1:
            out.append("shrink")
        if "turn" in allowed and len(self.used_colours) < len(self.cfg.colours):
            out.append("turn")
        return out

    def _add_event(self, s: int, e: int) -> None:
        rng = self.rng
        for _ in range(_TRIES_PER_EVENT):
            options: dict[str, list[int]] = {}
            for i in range(len(self.specs)):
                for fam in self._families(i, s, e):
                    options.setdefault(fam, []).append(i)
            if not options:
                raise _Reject
            fams = sorted(options)
            weights = np.array([FAMILY_WEIGHTS[f] for f in fams])
            fam = fams[int(rng.choice(len(fams), p=weights / weights.sum()))]
            i = options[fam][int(rng.integers(len(options[fam])))]
            ev = getattr(self, f"_try_{fam}")(i, s, e)
            if ev is not None:
                self.events.append(ev)
                tr = self.tracks[i]
                tr.busy.append((s, e))
                tr.involved = True
                if ev.target is not None:
                    held = self.tracks[[sp.id for sp in self.specs].index(ev.target)]
                    held.held.append((s, e))
                    held.involved = True
                if fam == "disappear":
                    tr.gone_at = e
                return
        raise _Reject

    # each _try_* builds the agent's new state columns, validates them and commits, or returns None
    def _columns(self, i: int) -> dict[str, np.ndarray]:
        return {k: getattr(self, k)[:, i].copy() for k in ("x", "y", "size", "angle", "colour", "alpha", "size_class")}

    def _commit(self, i: int, cols: dict[str, np.ndarray]) -> None:
        for k, v in cols.items():
            getattr(self, k)[:, i] = v

    @staticmethod
    def _hold(cols: dict[str, np.ndarray], e: int) -> None:
        for v in cols.values():
            v[e + 1 :] = v[e]

    def _valid(self, i: int, cols: dict[str, np.ndarray], s: int, e: int, kind: str) -> bool:
        """Bounds, no overlap from frame ``s`` on, and visible change at every step of ``[s, e)``."""
        frames = np.arange(s, self.F)
        r = self._radius(i, cols["size"][frames])
        xs, ys = cols["x"][frames], cols["y"][frames]
        if (
            (xs - r < 0.5).any()
            or (xs + r > self.W - 0.5).any()
            or (ys - r < 0.5).any()
            or (ys + r > self.H - 0.5).any()
        ):
            return False
        mine: np.ndarray | None = None
        for j in range(len(self.specs)):
            if j == i:
                continue
            rj = self._radius(j, self.size[frames, j])
            dist = np.hypot(xs - self.x[frames, j], ys - self.y[frames, j])
            close = (dist <= r + rj + 1.5) & (cols["alpha"][frames] > 0) & (self.alpha[frames, j] > 0)
            if close.any():
                if mine is None:
                    mine = self._masks(i, frames, cols)
                idx = np.nonzero(close)[0]
                theirs = self._masks(j, frames[idx])
                if (mine[idx] & theirs).any():
                    return False
        if kind in ("move", "scale", "rotate"):
            steps = np.arange(s, e + 1)
            m = mine[: e + 1 - s] if mine is not None else self._masks(i, steps, cols)
            dpos, dlog, xor = step_changes(m)
            thr = self.thr
            if kind == "move" and (dpos < MARGIN * thr.move_px).any():
                return False
            if kind == "scale" and (np.abs(dlog) < MARGIN * thr.log_area).any():
                return False
            if kind == "rotate":
                st = mask_stats(m)
                drift = np.hypot(st.cx - st.cx[0], st.cy - st.cy[0]).max()
                net = abs(math.log(max(st.area[-1], 1.0) / max(st.area[0], 1.0)))
                if (
                    (xor < MARGIN * thr.xor).any()
                    or net > RUN_RULES.scale_log / MARGIN
                    or drift > RUN_RULES.travel_px / MARGIN
                ):
                    return False
        return True

    def _heads_at_third(self, i: int, cols: dict[str, np.ndarray], s: int, e: int, target: int | None) -> bool:
        """Does the translation of ``i`` over [s, e) head at (cos >= ALIGN_COS) an entity it ends near?"""
        dx, dy = cols["x"][e] - cols["x"][s], cols["y"][e] - cols["y"][s]
        norm = math.hypot(dx, dy)
        if norm == 0:
            return False
        near = self.cfg.near_px + 3.0
        ri = self._radius(i, cols["size"][e])
        for j in range(len(self.specs)):
            if j in (i, target) or self.alpha[s, j] <= 0:
                continue
            vx, vy = self.x[s, j] - cols["x"][s], self.y[s, j] - cols["y"][s]
            cos = (dx * vx + dy * vy) / (norm * max(math.hypot(vx, vy), 1e-9))
            end_dist = math.hypot(self.x[e, j] - cols["x"][e], self.y[e, j] - cols["y"][e])
            if cos >= ALIGN_COS and end_dist <= ri + self._radius(j, self.size[e, j]) + near:
                return True
        return False

    def _speed_px(self) -> tuple[float, float]:
        lo, hi = self.cfg.speed
        u = self.cfg.unit
        return max(lo * u, self.cfg.min_step_px), max(hi * u, self.cfg.min_step_px)

    def _try_move(self, i: int, s: int, e: int) -> Event | None:
        pred = str(self.rng.choice(np.array(list(MOVE_DIRECTIONS))))
        ux, uy = MOVE_DIRECTIONS[pred]
        v = self.rng.uniform(*self._speed_px())
        k = np.arange(e - s + 1)
        cols = self._columns(i)
        cols["x"][s : e + 1] = cols["x"][s] + ux * v * k
        cols["y"][s : e + 1] = cols["y"][s] + uy * v * k
        self._hold(cols, e)
        if self._heads_at_third(i, cols, s, e, None) or not self._valid(i, cols, s, e, "move"):
            return None
        self._commit(i, cols)
        return Event(self.specs[i].id, pred, None, s, e)

    def _try_jump(self, i: int, s: int, e: int) -> Event | None:
        d = e - s
        up = math.ceil(d / 2)
        lo = max(self.cfg.min_step_px * up, 0.12 * self.cfg.unit)
        hi = 0.25 * self.cfg.unit
        if lo > hi:
            return None
        h = self.rng.uniform(lo, hi)
        k = np.arange(d + 1)
        lift = np.where(k <= up, h * k / up, h * (d - k) / max(d - up, 1))
        cols = self._columns(i)
        cols["y"][s : e + 1] = cols["y"][s] - lift
        self._hold(cols, e)
        if not self._valid(i, cols, s, e, "move"):
            return None
        self._commit(i, cols)
        return Event(self.specs[i].id, "jump", None, s, e)

    def _try_scale(self, i: int, s: int, e: int, grow: bool) -> Event | None:
        cfg = self.cfg
        ratio = cfg.large_size / cfg.small_size
        k = np.arange(e - s + 1) / (e - s)
        cols = self._columns(i)
        cols["size"][s : e + 1] = cols["size"][s] * ratio ** (k if grow else -k)
        cols["size_class"][e:] = 1 if grow else 0
        self._hold(cols, e)
        if not self._valid(i, cols, s, e, "scale"):
            return None
        self._commit(i, cols)
        return Event(self.specs[i].id, "grow" if grow else "shrink", None, s, e)

    def _try_grow(self, i: int, s: int, e: int) -> Event | None:
        return self._try_scale(i, s, e, True)

    def _try_shrink(self, i: int, s: int, e: int) -> Event | None:
        return self._try_scale(i, s, e, False)

    def _try_rotate(self, i: int, s: int, e: int) -> Event | None:
        cols = self._columns(i)
        cols["angle"][s : e + 1] = cols["angle"][s] + self.cfg.rotation_step * np.arange(e - s + 1)
        self._hold(cols, e)
        if not self._valid(i, cols, s, e, "rotate"):
            return None
        self._commit(i, cols)
        return Event(self.specs[i].id, "rotate", None, s, e)

    def _try_appear(self, i: int, s: int, e: int) -> Event | None:
        cols = self._columns(i)
        cols["alpha"][: s + 1] = 0.0
        cols["alpha"][s : e + 1] = np.arange(e - s + 1) / (e - s)
        if not self._valid(i, cols, s, e, "fade"):
            return None
        self._commit(i, cols)
        return Event(self.specs[i].id, "appear", None, s, e)

    def _try_disappear(self, i: int, s: int, e: int) -> Event | None:
        cols = self._columns(i)
        cols["alpha"][s : e + 1] = 1.0 - np.arange(e - s + 1) / (e - s)
        cols["alpha"][e:] = 0.0
        self._commit(i, cols)
        return Event(self.specs[i].id, "disappear", None, s, e)

    def _try_turn(self, i: int, s: int, e: int) -> Event | None:
        free = [c for c in self.cfg.colours if c not in self.used_colours]
        new = str(self.rng.choice(np.array(free)))
        cols = self._columns(i)
        t = np.arange(e - s + 1) / (e - s)
        first = t < 0.5
        cols["alpha"][s : e + 1] = np.where(
            first, 1 - 2 * t * (1 - TURN_ALPHA), TURN_ALPHA + (2 * t - 1) * (1 - TURN_ALPHA)
        )
        cols["colour"][s : e + 1] = np.where(first, cols["colour"][s], self.cfg.colours.index(new))
        self._hold(cols, e)
        self._commit(i, cols)
        self.used_colours.add(new)
        return Event(self.specs[i].id, turn_predicate(new), None, s, e)

    def _pair_state(self, i: int, cols: dict[str, np.ndarray], j: int, f: int) -> str:
        """``"touching"``, ``"near"``, ``"far"`` or ``"overlap"`` of ``i`` (new columns) and ``j`` in frame ``f``."""
        a = self._masks(i, np.array([f]), cols)
        b = self._masks(j, np.array([f]))
        if (a & b).any():
            return "overlap"
        rel = spatial_relations(np.stack([a, b], axis=1), self.cfg.near_px)
        return "touching" if rel.touching[0, 0, 1] else "near" if rel.near[0, 0, 1] else "far"

    def _try_approach(self, i: int, s: int, e: int) -> Event | None:
        return self._try_reach(i, s, e, touch=False)

    def _try_touch(self, i: int, s: int, e: int) -> Event | None:
        return self._try_reach(i, s, e, touch=True)

    def _try_reach(self, i: int, s: int, e: int, *, touch: bool) -> Event | None:
        rng = self.rng
        targets = [
            j
            for j in range(len(self.specs))
            if j != i and self.tracks[j].gone_at is None and self.alpha[s, j] == 1.0 and self.tracks[j].still(s, e)
        ]
        if not targets:
            return None
        j = targets[int(rng.integers(len(targets)))]
        cols = self._columns(i)
        if self._pair_state(i, cols, j, s) != "far":
            return None
        ax, ay, bx, by = cols["x"][s], cols["y"][s], self.x[s, j], self.y[s, j]
        dist = math.hypot(bx - ax, by - ay)
        ux, uy = (bx - ax) / dist, (by - ay) / dist
        sp_i, sp_j = self.specs[i], self.specs[j]
        contact = boundary_distance(sp_i.shape, cols["size"][s], cols["angle"][s], ux, uy) + boundary_distance(
            sp_j.shape, self.size[s, j], self.angle[s, j], -ux, -uy
        )
        d = e - s
        vmin, vmax = self.cfg.min_step_px, 2.0 * self._speed_px()[1]
        k = np.arange(d + 1) / d
        if touch:
            gaps = [1.2 - 0.25 * t for t in range(12)]
        else:
            hi = self.cfg.near_px - 1.0
            gaps = [rng.uniform(1.5, max(1.6, hi))]
        for gap in gaps:
            travel = dist - contact - gap
            if not vmin * d <= travel <= vmax * d:
                return None
            cols["x"][s : e + 1] = ax + ux * travel * k
            cols["y"][s : e + 1] = ay + uy * travel * k
            self._hold(cols, e)
            state = self._pair_state(i, cols, j, e)
            if state == "overlap":
                return None
            if state == ("touching" if touch else "near"):
                break
        else:
            return None
        if self._heads_at_third(i, cols, s, e, j) or not self._valid(i, cols, s, e, "move"):
            return None
        self._commit(i, cols)
        return Event(sp_i.id, "touch" if touch else "approach", sp_j.id, s, e)
