"""Draw a DSG as a timeline: one column per distinct segment, its scene graph inside.

Matplotlib is imported lazily, so ``import dsg`` does not pay for it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .dynamic import DynamicSceneGraph

__all__ = ["draw_timeline"]

_PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def draw_timeline(
    dsg: DynamicSceneGraph,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    max_columns: int = 12,
    dpi: int = 110,
) -> Any:
    """Render ``dsg`` as a timeline figure; save it to ``path`` (PNG, SVG or PDF by suffix) if given.

    Columns are the distinct segments (``[start, end)`` in the DSG's time unit); inside each column the
    entities present are laid out on a circle (colour per entity, consistent across columns, attributes
    under the name) and relations are arrows labelled with their predicate; unary actions are written
    under the entity in bold. Returns the matplotlib ``Figure``.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    segs = list(dsg.segments())[:max_columns] or []
    ncol = max(1, len(segs))
    fig, axes = plt.subplots(1, ncol, figsize=(3.2 * ncol, 3.6), squeeze=False)
    colour = {e.id: _PALETTE[i % len(_PALETTE)] for i, e in enumerate(dsg.entities)}
    for ax, seg in zip(axes[0], segs):
        sg = seg.graph
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
        ax.axis("off")
        ax.set_title(f"[{seg.start}, {seg.end}) {dsg.time_unit}", fontsize=9)
        n = len(sg.objects)
        pos = {
            o: (
                math.cos(2 * math.pi * i / max(n, 1) + math.pi / 2) * (0.9 if n > 1 else 0),
                math.sin(2 * math.pi * i / max(n, 1) + math.pi / 2) * (0.9 if n > 1 else 0),
            )
            for i, o in enumerate(sg.objects)
        }
        for r in sg.relations:
            if r.object is None or r.object == r.subject:
                continue
            (x0, y0), (x1, y1) = pos[r.subject], pos[r.object]
            ax.add_patch(
                FancyArrowPatch(
                    (x0, y0),
                    (x1, y1),
                    arrowstyle="-|>",
                    mutation_scale=10,
                    shrinkA=14,
                    shrinkB=14,
                    color="#555555",
                    lw=1,
                )
            )
            ax.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                r.predicate,
                fontsize=7,
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
        for o, (x, y) in pos.items():
            ent = dsg.entity_table[o]
            ax.scatter([x], [y], s=420, color=colour[o], zorder=3)
            ax.text(x, y + 0.22, ent.label, fontsize=8, ha="center", va="bottom", zorder=4)
            attrs = sorted(set(ent.attributes) | set(sg.attributes_of(o)))
            actions = [r.predicate for r in sg.relations if r.subject == o and r.object is None]
            lines = ([", ".join(attrs)] if attrs else []) + actions
            for k, line in enumerate(lines):
                ax.text(
                    x,
                    y - 0.22 - 0.16 * k,
                    line,
                    fontsize=7,
                    ha="center",
                    va="top",
                    zorder=4,
                    fontweight="bold" if k >= (1 if attrs else 0) else "normal",
                )
    if not segs:
        axes[0][0].axis("off")
        axes[0][0].text(0.5, 0.5, "(empty DSG)", ha="center", va="center")
    fig.suptitle(title if title is not None else (dsg.text or ""), fontsize=9, wrap=True)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
    return fig
