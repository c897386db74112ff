"""Mean ± std over seeds, Markdown tables and PNG plots (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Stat", "grouped_bars", "line_panels", "markdown_table", "mean_std"]


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (``nan`` with fewer than two values) of ``n`` finite values."""

    mean: float
    std: float
    n: int

    def fmt(self, scale: float = 100.0, digits: int = 1) -> str:
        """``"45.2 ± 3.1"`` (values times ``scale``); ``"n/a"`` without values; no ``±`` for one value."""
        if self.n == 0:
            return "n/a"
        if math.isnan(self.std):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}"


def mean_std(values: Iterable[float | None]) -> Stat:
    """:class:`Stat` of the finite values (``None`` and ``nan`` are left out: undefined for that run)."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return Stat(math.nan, math.nan, 0)
    return Stat(statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else math.nan, len(vals))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric_from: int = 1) -> str:
    """A GitHub Markdown table; columns from ``numeric_from`` on are right-aligned."""
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"every row needs {len(header)} cells")
    aligns = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grouped_bars(
    path: str | Path,
    categories: Sequence[str],
    series: Mapping[str, Sequence[Stat]],
    *,
    points: Mapping[str, Sequence[Sequence[float]]] | None = None,
    ylabel: str = "",
    title: str = "",
    scale: float = 100.0,
    ylim: tuple[float, float] | None = (0, 100),
) -> Path:
    """Bars of ``series[label][i]`` for every category ``i`` (error bars: std), one colour per label;
    ``points`` adds the per-seed values as dots."""
    plt = _pyplot()
    labels = list(series)
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(categories) * max(2, len(labels))), 4.2))
    for k, label in enumerate(labels):
        xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(categories))]
        stats = series[label]
        means = [0.0 if s.n == 0 else s.mean * scale for s in stats]
        errs = [0.0 if s.n < 2 else s.std * scale for s in stats]
        ax.bar(xs, means, width, yerr=errs if any(errs) else None, capsize=3, label=label)
        for x, vals in zip(xs, (points or {}).get(label, [])):
            finite = [v * scale for v in vals if not math.isnan(v)]
            ax.scatter([x] * len(finite), finite, s=8, color="black", zorder=3)
    ax.set_xticks(range(len(categories)), list(categories))
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def line_panels(
    path: str | Path,
    panels: Sequence[tuple[str, str, Sequence[float], Mapping[str, Sequence[Stat]]]],
    *,
    ylabel: str = "",
    title: str = "",
    scale: float = 100.0,
) -> Path:
    """One subplot per ``(title, xlabel, xs, {label: stats per x})``, lines with std bands."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (ptitle, xlabel, xs, series) in zip(axes[0], panels):
        for label, stats in series.items():
            pts = [(x, s) for x, s in zip(xs, stats) if s.n]
            if not pts:
                continue
            px = [x for x, _ in pts]
            m = [s.mean * scale for _, s in pts]
            sd = [0.0 if math.isnan(s.std) else s.std * scale for _, s in pts]
            ax.plot(px, m, marker="o", label=label)
            ax.fill_between(px, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], alpha=0.15)
        if len(xs):
            ax.set_xticks(list(xs), [f"{x:g}" for x in xs])
        ax.set_title(ptitle, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
