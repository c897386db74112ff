"""Benchmark of the procedural world: parser accuracy on clean and degraded renders, and throughput.

Prints two markdown tables:

1. Parser quality per condition (clean, Gaussian noise, Gaussian blur, both) and resolution: TriRec
   (paper eq. 7, frame by frame, all gold triplets), TriRec over action triplets, action faithfulness
   (share of gold events found with the whole triplet), event-order accuracy (pairwise, matched events),
   and the share of videos whose parsed DSG equals the gold DSG exactly.
2. Throughput: sampling + rendering + gold DSG + caption (videos/s, batched), rendering alone, and
   parsing, at 16x32x32 and 16x64x64.

Usage::

    .venv/bin/python benchmarks/bench_world_parser.py            # about 2-3 minutes on 2 cores
    .venv/bin/python benchmarks/bench_world_parser.py --videos 24 --sizes 32

Noise is added to frames in [0, 1] (standard deviation ``sigma``) and clipped; blur is a Gaussian of
``sigma`` pixels applied to every frame. Videos mix difficulty levels 1-6 and are the same for every
condition. Torch runs single-threaded (``--threads``) so that timings are stable on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from dsg import trirec
from vdm.world import World, WorldConfig, WorldParser, render_batch, score_video

KEYS = ("trirec", "own", "actions", "faith", "order", "exact")
COLUMNS = ("TriRec", "TriRec no cast", "action TriRec", "faithful", "order", "exact")

CONDITIONS: list[tuple[str, float, float]] = [
    ("clean", 0.0, 0.0),
    ("noise 0.02", 0.02, 0.0),
    ("noise 0.05", 0.05, 0.0),
    ("noise 0.10", 0.10, 0.0),
    ("noise 0.20", 0.20, 0.0),
    ("blur 0.5px", 0.0, 0.5),
    ("blur 1.0px", 0.0, 1.0),
    ("blur 1.5px", 0.0, 1.5),
    ("blur 2.0px", 0.0, 2.0),
    ("blur 1.0 + noise 0.05", 0.05, 1.0),
]


def degrade(video: torch.Tensor, noise: float, blur: float, rng: np.random.Generator) -> np.ndarray:
    """``(F, 3, H, W)`` uint8 -> degraded ``(F, H, W, 3)`` float (noise clipped to [0, 1], as in any stored video)."""
    x = video.permute(0, 2, 3, 1).numpy().astype(np.float32) / 255.0
    if blur:
        x = gaussian_filter(x, sigma=(0, blur, blur, 0))
    if noise:
        x = x + rng.normal(0.0, noise, x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0)


def quality(size: int, n: int, seed: int) -> dict[str, dict[str, float]]:
    world = World(WorldConfig(height=size, width=size), [1, 2, 3, 4, 5, 6])
    samples = world.sample_batch([(seed, k) for k in range(n)])
    parser = WorldParser(world.config)
    out: dict[str, dict[str, float]] = {}
    for name, noise, blur in CONDITIONS:
        rng = np.random.default_rng(seed)
        rows = []
        for s in samples:
            video = degrade(s.video, noise, blur, rng) if (noise or blur) else s.video
            sc = score_video(video, s.dsg, parser=parser)
            exact = sc.parsed.frames == s.dsg.frames and sc.parsed.schedule.events == s.dsg.schedule.events
            own = parser.parse(video)  # without the gold cast: shapes must be recognised too
            rows.append(
                (sc.trirec, trirec(own, s.dsg), sc.trirec_actions, sc.faithfulness, sc.order_accuracy, float(exact))
            )
        m = np.mean(rows, axis=0)
        out[name] = dict(zip(KEYS, m.tolist()))
    return out


def throughput(size: int, n: int, batch: int) -> dict[str, float]:
    world = World(WorldConfig(height=size, width=size), [1, 2, 3, 4, 5, 6])
    world.sample_batch([(99, 0)])  # warm up
    t = time.perf_counter()
    samples = []
    for start in range(0, n, batch):
        samples += world.sample_batch([(7, k) for k in range(start, min(n, start + batch))])
    full = n / (time.perf_counter() - t)
    scenes = [s.scene for s in samples]
    t = time.perf_counter()
    for start in range(0, n, batch):
        render_batch(scenes[start : start + batch])
    rend = n / (time.perf_counter() - t)
    parser = WorldParser(world.config)
    t = time.perf_counter()
    for s in samples[: max(1, n // 4)]:
        parser.parse(s.video)
    parse = max(1, n // 4) / (time.perf_counter() - t)
    return {"sample": full, "render": rend, "parse": parse}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=48, help="videos per resolution for the quality table")
    ap.add_argument("--sizes", default="32,64", help="frame sizes (square), comma separated")
    ap.add_argument("--throughput-videos", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"## Parser quality ({args.videos} videos per size, levels 1-6 mixed, 16 frames)\n")
    results = {size: quality(size, args.videos, args.seed) for size in sizes}
    head = "| condition | " + " | ".join(f"{s}px {c}" for s in sizes for c in COLUMNS)
    print(head + " |")
    print("|" + "---|" * (1 + len(COLUMNS) * len(sizes)))
    for name, _, _ in CONDITIONS:
        cells = [f"{100 * results[s][name][k]:.1f}" for s in sizes for k in KEYS]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print(f"\n## Throughput (videos/s, batch {args.batch}, {args.threads} thread(s))\n")
    print("| size | sample+render+gold DSG+caption | render only | parse |")
    print("|---|---|---|---|")
    for s in sizes:
        t = throughput(s, args.throughput_videos, args.batch)
        print(f"| 16x{s}x{s} | {t['sample']:.0f} | {t['render']:.0f} | {t['parse']:.1f} |")


if __name__ == "__main__":
    main()
