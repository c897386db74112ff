"""Which events does a text-to-video pipeline miss, and which does it draw that nobody asked for?

    python benchmarks/world_failure_modes.py --model vdm/weights/default --num 144 --split val

Generates ``--num`` world prompts (spread over levels 1-3) with the pipeline's own planner and sampling
defaults, reads each video back with the world's parser and counts, per predicate family (``move``,
``jump``, ``rotate``, ...), the gold events the video does not show (*missing*) and the events it shows
that the gold does not hold (*spurious*, split by whether their agent is one the prompt names). Spurious
events count against ``dsg.event_order`` and the clean share, missing ones against TriRec and faithfulness.
A few videos that miss a given family are printed with what the parser read instead.
"""

from __future__ import annotations

import argparse
import collections
import json
from typing import Any


def _family(predicate: str) -> str:
    return predicate.split()[0]


def main(argv: list[str] | None = None) -> int:
    import torch

    from vdm.pipelines import DysenVDMPipeline
    from vdm.training.world_eval import prompted_gold
    from vdm.training.world_source import WorldSource, generate_videos
    from vdm.world.config import WorldConfig
    from vdm.world.parser import WorldParser, score_video

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vdm/weights/default", help="a saved pipeline folder")
    p.add_argument("--num", type=int, default=144, help="prompts, spread evenly over levels 1-3")
    p.add_argument("--split", default="val", choices=["val", "test"])
    p.add_argument("--show", default="jump", help="print a few videos that miss this predicate family")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the counts here")
    args = p.parse_args(argv)

    pipe = DysenVDMPipeline.from_pretrained(args.model, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    cfg = WorldConfig(num_frames=pipe.config.num_frames, height=32, width=32)
    parser = WorldParser(cfg)
    gen = torch.Generator().manual_seed(args.seed)
    gold_n: collections.Counter[str] = collections.Counter()
    missing: collections.Counter[str] = collections.Counter()
    spurious: collections.Counter[str] = collections.Counter()
    shown = 0
    for level in (1, 2, 3):
        source = WorldSource(cfg, (level,), args.split)
        count = args.num // 3
        for start in range(0, count, 16):
            _, captions, full = source.examples(list(range(start, min(count, start + 16))))
            golds = [prompted_gold(g) for g in full]
            videos = generate_videos(pipe, captions, None, gen, 20, None)  # planner, defaults
            for video, gold, caption in zip(videos, golds, captions):
                parsed = score_video(video, gold, parser=parser, value_range=(0.0, 1.0)).parsed.schedule
                want = collections.Counter((e.agent, e.predicate, e.target) for e in gold.schedule or [])
                got = collections.Counter((e.agent, e.predicate, e.target) for e in parsed or [])
                agents = {t[0] for t in want}
                for t, n in want.items():
                    gold_n[_family(t[1])] += n
                for t, n in (want - got).items():
                    missing[_family(t[1])] += n
                for t, n in (got - want).items():
                    spurious[f"{_family(t[1])} ({'named' if t[0] in agents else 'other'} agent)"] += n
                if shown < 4 and any(_family(t[1]) == args.show for t in want - got):
                    shown += 1
                    read = [(e.agent, e.predicate, e.start, e.end) for e in parsed or []]
                    print(f"{caption}\n    parsed: {read}")
    result: dict[str, Any] = {
        "model": args.model,
        "split": args.split,
        "videos": args.num // 3 * 3,
        "gold_events": dict(gold_n),
        "missing": dict(missing),
        "spurious": dict(spurious.most_common()),
    }
    print(f"\n{'family':<10} {'gold':>5} {'missing':>8}")
    for fam, n in gold_n.most_common():
        print(f"{fam:<10} {n:>5} {missing[fam]:>8}")
    print("\nspurious events (not in the gold):")
    for key, n in spurious.most_common():
        print(f"  {key:<28} {n:>4}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
