"""Paper Fig. 8: scene-graph structures per SG before and after scene imagination (Dysen Step III).

For every text the offline Dysen planner (:class:`dysen.RuleBasedPlanner`) parses it once (spaCy) and then
builds three DSGs from the same analysis:

* **before** — the Step II skeleton (``imagine=False``): one triplet per active event;
* **after** — with the rule-based imagination (the planner's default);
* **after, w/o SWC** — imagination on each scene graph alone
  (``paperbench.ablation_planners.WindowlessRuleBasedPlanner``).

Counted per scene graph (per frame of the planner's step grid, ``dsg.scene_statistics``): object-attribute
pairs (static content) and subject-predicate-object triplets (dynamics), pooled over every SG of a corpus
(each SG counts once). Texts in which the planner finds no event are left out and counted.

Corpora: a fixed random sample of ActivityNet Captions val_2 and YouCook2 val paragraphs (sentences joined,
as in ``benchmarks/bench_planner_quality.py``), and captions of the procedural world (levels 1-6, with
``colour_in_label=True``, the world's entity naming). No model, no GPU.

Usage::

    .venv/bin/python benchmarks/paper/fig8_scene_stats.py                    # 300 paragraphs per dataset
    .venv/bin/python benchmarks/paper/fig8_scene_stats.py --paragraphs 50 --world 20 --results /tmp/fig8
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/: bench_planner_quality

from bench_planner_quality import DATA, paragraph
from paperbench.ablation_planners import NoImaginationRuleBasedPlanner, RuleBasedPlanner, WindowlessRuleBasedPlanner
from paperbench.report import Stat, grouped_bars, markdown_table

from dsg import scene_statistics

HERE = Path(__file__).resolve().parent
STAGES: tuple[tuple[str, str], ...] = (("before", "before"), ("after", "after"), ("after_no_swc", "after, w/o SWC"))


def dataset_paragraphs(path: Path, n: int, seed: int, punctuate: bool) -> list[str]:
    """``n`` paragraphs (>= 2 sentences) drawn with ``random.Random(seed)`` from a captions JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = [k for k in sorted(data) if len(data[k]["sentences"]) >= 2]
    return [paragraph(data[k]["sentences"], punctuate)[0] for k in random.Random(seed).sample(keys, min(n, len(keys)))]


def world_captions(per_level: int, seed: int) -> list[str]:
    from vdm.world import WorldConfig, WorldDataset

    out = []
    for level in range(1, 7):
        data = WorldDataset("test", per_level, config=WorldConfig(height=32, width=32), difficulty=level, seed=seed)
        out += [data[i]["caption"] for i in range(per_level)]
    return out


def corpus_statistics(texts: Sequence[str], *, colour_in_label: bool = False, substeps: int = 1) -> dict[str, Any]:
    """Pooled per-SG counts of every stage over ``texts`` (one spaCy parse per text)."""
    kw = {"colour_in_label": colour_in_label, "substeps": substeps}
    planners = {
        "before": NoImaginationRuleBasedPlanner(**kw),
        "after": RuleBasedPlanner(**kw),
        "after_no_swc": WindowlessRuleBasedPlanner(**kw),
    }
    sums = {k: [0.0, 0.0, 0] for k in planners}  # object-attribute, triplets, SGs
    gained = {k: 0 for k in planners}
    empty = 0
    t0 = time.perf_counter()
    for analysis in planners["after"].analyse_many(list(texts)):
        if not analysis.events:
            empty += 1
            continue
        base = None
        for key, planner in planners.items():
            st = scene_statistics(planner.plan_analysis(analysis))
            s = sums[key]
            s[0] += st.object_attribute * st.num_frames
            s[1] += st.triplets * st.num_frames
            s[2] += st.num_frames
            total = st.object_attribute + st.triplets
            if base is None:
                base = total
            gained[key] += total > base
    out: dict[str, Any] = {"texts": len(texts), "without_events": empty, "seconds": time.perf_counter() - t0}
    for key, (oa, tr, n) in sums.items():
        out[key] = {
            "object_attribute": oa / n if n else 0.0,
            "triplets": tr / n if n else 0.0,
            "scene_graphs": n,
            "texts_enriched": gained[key] / max(1, len(texts) - empty),
        }
    return out


def render(results: dict[str, Any], command: str, args: argparse.Namespace) -> str:
    parts = [
        "# Fig. 8: scene-graph structures per SG before and after scene imagination\n\n",
        f"Command: `{command}`\n\n",
        "Planner: the offline `RuleBasedPlanner` (spaCy + rules; the LLM planner of the paper is not used here). "
        f"Counts per scene graph on the planner's step grid (substeps {args.substeps}), pooled over all SGs of a "
        "corpus. *Enriched*: share of texts whose mean items per SG grew over the skeleton.\n\n",
    ]
    rows = []
    for name, r in results.items():
        for key, label in STAGES:
            s = r[key]
            rows.append(
                [
                    name if key == "before" else "",
                    label,
                    f"{s['object_attribute']:.3f}",
                    f"{s['triplets']:.3f}",
                    str(s["scene_graphs"]),
                    "" if key == "before" else f"{100 * s['texts_enriched']:.1f} %",
                ]
            )
    parts.append(
        markdown_table(
            ["Corpus", "Stage", "Obj.-Attr. per SG", "Subj.-Prdc.-Obj. per SG", "SGs", "Enriched"], rows, numeric_from=2
        )
    )
    parts.append("\n")
    for name, r in results.items():
        parts.append(
            f"- {name}: {r['texts']} texts, {r['without_events']} without any planned event (left out), "
            f"planned in {r['seconds']:.1f} s\n"
        )
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paragraphs", type=int, default=300, help="paragraphs sampled per real dataset")
    ap.add_argument("--world", type=int, default=50, help="world captions per level (levels 1-6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--substeps", type=int, default=1, help="frames per step of v (3 shows whole motion chains)")
    ap.add_argument("--results", default=str(HERE / "results" / "fig8"))
    args = ap.parse_args(argv)
    corpora = {
        "ActivityNet val_2": (
            dataset_paragraphs(DATA / "activitynet_captions_val_2.json", args.paragraphs, args.seed, False),
            False,
        ),
        "YouCook2 val": (dataset_paragraphs(DATA / "youcook2_val.json", args.paragraphs, args.seed, True), False),
        "Procedural world (levels 1-6)": (world_captions(args.world, args.seed), True),
    }
    results = {
        name: corpus_statistics(texts, colour_in_label=cil, substeps=args.substeps)
        for name, (texts, cil) in corpora.items()
    }
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/paper/fig8_scene_stats.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    (out / "fig8.md").write_text(render(results, command, args), encoding="utf-8")
    (out / "fig8.json").write_text(json.dumps({"command": command, "results": results}, indent=2), encoding="utf-8")
    cats = [f"{n.split(' (')[0]}\n{kind}" for n in results for kind in ("Obj.-Attr.", "Subj.-Prdc.-Obj.")]
    series = {
        label: [
            Stat(results[n][key][field], float("nan"), 1) for n in results for field in ("object_attribute", "triplets")
        ]
        for key, label in STAGES
    }
    grouped_bars(
        out / "fig8.png",
        cats,
        series,
        ylabel="items per scene graph",
        title="Fig. 8 (offline planner): SG structures before / after scene imagination",
        scale=1.0,
        ylim=None,
    )
    print((out / "fig8.md").read_text(encoding="utf-8"))
    return results


if __name__ == "__main__":
    main()
