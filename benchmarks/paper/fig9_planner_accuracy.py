"""Paper Fig. 9: accuracy of action planning (Dysen Step I) — overall triplet, predicate and argument.

The paper compares GPT-3.5 and GPT-4 against 100 hand-annotated MSR-VTT captions. Here, with the same three
accuracies (:func:`dsg.planning_accuracy`, normalised by the larger event count so spurious events cost too):

* the labelled caption set shipped with dysen (``dysen/data/planner_gold.jsonl``), ``dev`` split (captions the
  rules were developed on) and ``test`` split (written before the planner ran on them), through
  :func:`dysen.evaluate_planner` — the same evaluation as ``benchmarks/bench_planner_quality.py``;
* captions of the procedural world per difficulty level 1-6 against the world's gold schedules (the planner's
  schedule mapped onto the video's frame grid first, :class:`paperbench.planners.GridPlanner`);

for the offline :class:`dysen.RuleBasedPlanner` (open vocabulary, the words as read; and, on the world sets, also
with the world's closed vocabulary, :class:`dysen.rule_based.vocabulary.ClosedVocabulary` ``.from_world()``: the
world's predicate, shape and colour *names*, onto which the planner maps free wording with spaCy structure and the
MiniLM encoder; the captioner's synonym tables are not used) and, with ``--llm-base-url`` and ``--llm-models``, for
:class:`dysen.LLMPlanner` on each model of an OpenAI-compatible server. ``--rehearse-llm`` runs the LLM path
against dysen's fake oracle server (it answers Step I with the rule-based reading: a plumbing check, not an LLM
measurement). Real captions (ActivityNet, YouCook2) have no gold triplets, only timestamps: their event order is
measured by ``bench_planner_quality.py``. No GPU.

Usage::

    .venv/bin/python benchmarks/paper/fig9_planner_accuracy.py
    .venv/bin/python benchmarks/paper/fig9_planner_accuracy.py --llm-base-url http://127.0.0.1:8000/v1 \\
        --llm-models model-a model-b
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paperbench.planners import GridPlanner
from paperbench.report import Stat, grouped_bars, markdown_table

from dsg import Planner
from dysen import RuleBasedPlanner, evaluate_planner, load_planner_gold
from dysen.evaluation import GoldCaption

HERE = Path(__file__).resolve().parent
ACCURACIES: tuple[tuple[str, str], ...] = (("triplet", "Triplet"), ("predicate", "Predicate"), ("argument", "Argument"))


def world_gold(level: int, num: int, num_frames: int, seed: int) -> list[GoldCaption]:
    """``num`` test-split world captions of ``level`` with their gold schedules (unit: frames)."""
    from vdm.world import WorldConfig, WorldDataset

    config = WorldConfig(num_frames=num_frames, height=32, width=32)
    data = WorldDataset("test", num, config=config, difficulty=level, seed=seed)
    return [
        GoldCaption(f"world-l{level}-{i}", it["caption"], it["schedule"], ("world",), "test")
        for i, it in enumerate(data.__getitems__(list(range(num))))
    ]


def evaluate(
    name: str, planner: Planner | None, world_planner: Planner, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Rows (one per evaluation set) of the Fig. 9 accuracies and event order for one planner
    (``planner=None``: world sets only)."""
    rows = []
    sets: list[tuple[str, Planner, list[GoldCaption]]] = []
    if planner is not None:
        sets += [(f"labelled {split}", planner, load_planner_gold(split=split)) for split in ("dev", "test")]
    sets += [
        (f"world level {k}", GridPlanner(world_planner, args.frames), world_gold(k, args.world, args.frames, args.seed))
        for k in range(1, 7)
    ]
    for set_name, p, gold in sets:
        t0 = time.perf_counter()
        r = evaluate_planner(p, gold)
        rows.append({"planner": name, "set": set_name, **r.as_dict(), "seconds": time.perf_counter() - t0})
        print(
            f"{name:28} {set_name:16} n={r.num_captions:4d} triplet {r.triplet:.3f} predicate {r.predicate:.3f} "
            f"argument {r.argument:.3f} tau {r.kendall_tau:.3f}",
            flush=True,
        )
    return rows


@contextmanager
def fake_server() -> Iterator[str]:
    """dysen's fake OpenAI-compatible server with the oracle handler, on 127.0.0.1 (its base URL)."""
    from dysen.testing import DysenOracle, FakeChatServer

    with FakeChatServer(DysenOracle().warm_up()) as server:
        yield server.base_url


def llm_planner(base_url: str, model: str, *, colour_in_label: bool = False) -> Planner:
    from dysen import LLMPlanner, OpenAIChatModel

    chat = OpenAIChatModel(model, base_url=base_url, api_key_env="OPENAI_API_KEY")
    fallback = RuleBasedPlanner(colour_in_label=colour_in_label)
    return LLMPlanner(chat, fallback=fallback)


def render(rows: list[dict[str, Any]], command: str) -> str:
    parts = [
        "# Fig. 9: accuracy of action planning (triplet, predicate, argument)\n\n",
        f"Command: `{command}`\n\n",
        "Accuracies in %, mean over captions (`dsg.planning_accuracy`: matched events, normalised by the larger "
        "of the predicted and gold event counts). Kendall tau and pairwise order accuracy of the matched events "
        "(`dsg.event_order`); *exact*: share of captions whose whole predicted schedule equals the gold one "
        "(n/a for the world, whose gold intervals are on video frames, the planner's on its step grid).\n\n",
    ]
    body = [
        [
            r["planner"],
            r["set"],
            str(r["num_captions"]),
            *(f"{100 * r[k]:.1f}" for k, _ in ACCURACIES),
            f"{r['kendall_tau']:.3f}",
            f"{100 * r['pairwise_order']:.1f}",
            "n/a" if r["set"].startswith("world") else f"{100 * r['exact']:.1f}",
        ]
        for r in rows
    ]
    parts.append(
        markdown_table(
            ["Planner", "Captions", "n", "Triplet", "Predicate", "Argument", "Kendall tau", "Pairwise order", "Exact"],
            body,
            numeric_from=2,
        )
    )
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", type=int, default=100, help="world captions per level (levels 1-6)")
    ap.add_argument("--frames", type=int, default=16, help="frames of the world videos (the gold grid)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llm-base-url", help="an OpenAI-compatible server for LLMPlanner rows")
    ap.add_argument("--llm-models", nargs="+", default=[], help="models of that server (e.g. two, as GPT-3.5/4)")
    ap.add_argument("--rehearse-llm", action="store_true", help="add LLMPlanner rows against dysen's fake server")
    ap.add_argument(
        "--no-world-vocabulary",
        action="store_true",
        help="skip the RuleBasedPlanner rows with the world's closed vocabulary (ClosedVocabulary.from_world())",
    )
    ap.add_argument("--results", default=str(HERE / "results" / "fig9"))
    args = ap.parse_args(argv)
    rows = evaluate("RuleBasedPlanner", RuleBasedPlanner(), RuleBasedPlanner(colour_in_label=True), args)
    if not args.no_world_vocabulary:
        from dysen.rule_based.vocabulary import ClosedVocabulary

        vocab = ClosedVocabulary.from_world()
        rows += evaluate(
            "RuleBasedPlanner + world vocabulary",
            None,
            RuleBasedPlanner(colour_in_label=True, vocabulary=vocab),
            args,
        )
    for model in args.llm_models if args.llm_base_url else []:
        rows += evaluate(
            f"LLMPlanner ({model})",
            llm_planner(args.llm_base_url, model),
            llm_planner(args.llm_base_url, model, colour_in_label=True),
            args,
        )
    if args.rehearse_llm:
        with fake_server() as url:
            name = "LLMPlanner (fake oracle server)"
            rows += evaluate(name, llm_planner(url, "oracle"), llm_planner(url, "oracle", colour_in_label=True), args)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/paper/fig9_planner_accuracy.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    (out / "fig9.md").write_text(render(rows, command), encoding="utf-8")
    (out / "fig9.json").write_text(json.dumps({"command": command, "rows": rows}, indent=2), encoding="utf-8")
    sets = list(dict.fromkeys(r["set"] for r in rows))
    planners = list(dict.fromkeys(r["planner"] for r in rows))
    by = {(r["planner"], r["set"]): r for r in rows}
    grouped_bars(
        out / "fig9.png",
        [s.replace("world ", "world\n").replace("labelled ", "labelled\n") for s in sets],
        {
            (label if len(planners) == 1 else f"{p}: {label}"): [
                Stat(by[p, s][k], float("nan"), 1) if (p, s) in by else Stat(float("nan"), float("nan"), 0)
                for s in sets
            ]
            for p in planners
            for k, label in ACCURACIES
        },
        ylabel="action accuracy (%)",
        title=f"Fig. 9: action-planning accuracy ({', '.join(planners)})",
        ylim=(0, 115),
    )
    print((out / "fig9.md").read_text(encoding="utf-8"))
    return rows


if __name__ == "__main__":
    main()
