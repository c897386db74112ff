"""Paper Fig. 7: TriRec (eq. 7) of every Table 4 variant, from the results ``table4_ablations.py`` wrote.

TriRec = |G_PT ∩ G_GT| / |G_GT|: the share of the prompt's gold triplets (per frame) that the world's visual
parser finds in the generated video. Reported over all gold triplets (actions and spatial relations) and over the
action triplets alone, mean ± std over seeds with each seed's value, next to two references computed here: the
real renders of the same test prompts (the parser's ceiling: a perfect generator) and, when Table 4 ran it,
Dysen-VDM conditioned on the gold DSGs (a perfect planner). The paper's baselines (CogVideo, Latent-VDM) are not
available offline; "w/o Dysen" is this repository's Latent-VDM (the same denoiser without the DSG branch).

Usage::

    .venv/bin/python benchmarks/paper/fig7_trirec.py                                   # results/table4/table4.json
    .venv/bin/python benchmarks/paper/fig7_trirec.py --table4 benchmarks/paper/results/rehearsal/table4/table4.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paperbench.report import Stat, grouped_bars, markdown_table, mean_std
from paperbench.world_eval import score_prompts, world_prompts

from vdm.world import Difficulty

HERE = Path(__file__).resolve().parent
METRICS = (("trirec", "TriRec (all triplets)"), ("trirec_actions", "TriRec (actions)"))


def load_table4(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(
            f"error: {path} does not exist: run benchmarks/paper/table4_ablations.py first (see "
            "benchmarks/paper/README.md), or pass --table4 with the table4.json of a finished run"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def real_render_reference(budget: dict[str, Any], level: int) -> dict[str, Stat]:
    """TriRec of the parser on the real renders of ``eval_num`` level-``level`` test prompts."""
    prompts = world_prompts(
        Difficulty.level(level), budget["eval_num"], num_frames=budget["num_frames"], resolution=budget["resolution"]
    )
    rows = score_prompts(None, prompts)
    return {m: Stat(mean_std([r[m] for r in rows]).mean, float("nan"), 1) for m, _ in METRICS}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table4", default=str(HERE / "results" / "table4" / "table4.json"))
    ap.add_argument("--level", type=int, default=3, help="world level of the Table 4 evaluation to plot")
    ap.add_argument("--results", help="output folder (default: next to the table4.json, as fig7.*)")
    args = ap.parse_args(argv)
    src = Path(args.table4)
    t4 = load_table4(src)
    key = f"level{args.level}"
    table = t4["summary"].get(key)
    if not table:
        raise SystemExit(f"error: {src} has no results for {key} (levels there: {sorted(t4['summary'])})")
    out = Path(args.results) if args.results else src.parent
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, dict[str, Stat], dict[str, list[float]]]] = []
    for entry in table.values():
        stats = {m: Stat(entry[m]["mean"], entry[m]["std"], entry[m]["n"]) for m, _ in METRICS}
        rows.append((entry["label"], stats, {m: entry[m]["values"] for m, _ in METRICS}))
    gold = t4["summary"].get(f"{key}-gold", {}).get("dysen-vdm")
    if gold:
        stats = {m: Stat(gold[m]["mean"], gold[m]["std"], gold[m]["n"]) for m, _ in METRICS}
        rows.append(("Dysen-VDM, gold DSGs", stats, {m: gold[m]["values"] for m, _ in METRICS}))
    ref = real_render_reference(t4["budget"], args.level)
    rows.append(("Real renders (parser ceiling)", ref, {m: [] for m, _ in METRICS}))
    command = "python benchmarks/paper/fig7_trirec.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    budget = t4["budget"]
    md = [
        f"# Fig. 7: TriRec per variant (world level {args.level})\n\n",
        f"Command: `{command}`\n\nFrom `{src}` (Table 4 command: `{t4['command']}`), budget `{budget['name']}`. "
        "Percent, mean ± sample std over seeds (seed values in brackets).\n\n",
    ]
    if budget["name"] == "tiny":
        md.append("**REHEARSAL**: the models behind these numbers trained for a few steps; the numbers are noise.\n\n")
    body = [
        [
            label,
            *(
                f"{stats[m].fmt()}" + (f" [{', '.join(f'{100 * v:.1f}' for v in vals[m])}]" if vals[m] else "")
                for m, _ in METRICS
            ),
        ]
        for label, stats, vals in rows
    ]
    md.append(markdown_table(["Variant", *(n for _, n in METRICS)], body))
    (out / "fig7.md").write_text("".join(md), encoding="utf-8")
    summary = {
        label: {m: {"mean": s.mean, "std": s.std, "n": s.n} for m, s in stats.items()} for label, stats, _ in rows
    }
    (out / "fig7.json").write_text(json.dumps({"command": command, "rows": summary}, indent=2), encoding="utf-8")
    grouped_bars(
        out / "fig7.png",
        [n for _, n in METRICS],
        {label: [stats[m] for m, _ in METRICS] for label, stats, _ in rows},
        points={label: [vals[m] for m, _ in METRICS] for label, _, vals in rows},
        ylabel="TriRec (%)",
        title=f"Fig. 7: TriRec on world level {args.level} (budget {budget['name']})",
        ylim=(0, 110),
    )
    print("".join(md))
    return summary


if __name__ == "__main__":
    main()
