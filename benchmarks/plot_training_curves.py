"""Plot learning curves (``curve.jsonl`` of :func:`vdm.slots.training.train_slot_denoiser`) side by side.

    python benchmarks/plot_training_curves.py --runs dsg=outputs/ds/dsg-B text=outputs/ds/text \\
        --out docs/images/default_curves.png

One panel per metric (loss, clean share, action faithfulness, event order on >= 2 events, shape accuracy);
evaluation points are the runs' in-training evaluations on validation prompts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PANELS = ("loss", "clean", "faithfulness", "order_accuracy_multi", "shape_accuracy")


def read_curve(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run / "curve.jsonl").read_text().splitlines() if line.strip()]
    by_step: dict[int, dict[str, float]] = {}
    for row in rows:  # a resumed run repeats steps: keep the last row of each step
        by_step.setdefault(int(row["step"]), {}).update(row)
    return [by_step[s] for s in sorted(by_step)]


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="name=run_folder pairs")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2))
    for spec in args.runs:
        name, folder = spec.split("=", 1)
        rows = read_curve(Path(folder))
        for ax, key in zip(axes, PANELS):
            pts = [(r["step"], r[key]) for r in rows if key in r and r[key] == r[key]]
            if pts:
                ax.plot(*zip(*pts), marker="o" if key != "loss" else None, ms=3, label=name)
    for ax, key in zip(axes, PANELS):
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
