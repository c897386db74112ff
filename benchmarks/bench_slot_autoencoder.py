"""Stage I of the default model: how clean are the slot autoencoder's reconstructions of world videos?

    python benchmarks/bench_slot_autoencoder.py --model vdm/weights/default/vae --num 64

Renders ``--num`` world test videos per level (1-3, 16 x 32 x 32), encodes them with their per-entity masks,
decodes (soft and hard alpha maps) and reads the reconstruction back with the world's parser against the
gold DSG: the share of clean videos (every frame shows exactly the right entities), action TriRec (frame
by frame) and, per action family, how many gold events the parser no longer finds.
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    from vdm.slots import SlotAutoencoder
    from vdm.training.world_source import is_clean
    from vdm.world import World, WorldConfig
    from vdm.world.parser import WorldParser, score_video
    from vdm.world.render import render_batch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vdm/weights/default/vae", help="a saved SlotAutoencoder folder")
    p.add_argument("--num", type=int, default=64, help="videos per level")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ae = SlotAutoencoder.from_pretrained(args.model).float().eval()
    size = ae.config.sample_size
    cfg = WorldConfig(num_frames=16, height=size, width=size)
    parser = WorldParser(cfg)
    missed: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    print(f"{'level':>5}  {'alpha':>5}  {'clean':>6}  {'action TriRec':>13}  {'videos/s':>8}")
    for level in args.levels:
        samples = World(cfg, [level]).sample_batch([(0, 2, i) for i in range(args.num)])  # test-split seeds
        rendered = render_batch([s.scene for s in samples])
        video = rendered.videos.permute(0, 1, 4, 2, 3).float() / 255
        for hard in (False, True):
            t0 = time.time()
            with torch.no_grad():
                rec = ae.decode(ae.encode(video, rendered.masks), hard=hard)
            rate = args.num / (time.time() - t0)
            clean, trirec = 0, []
            for k, s in enumerate(samples):
                sc = score_video(rec[k], s.dsg, parser=parser, value_range=(0.0, 1.0))
                clean += is_clean(sc.parsed, s.dsg)
                trirec.append(sc.trirec_actions)
                if hard:
                    found = {(e.agent, e.predicate, e.target) for e in sc.parsed.schedule or []}
                    for ev in s.schedule:
                        family = ev.predicate.split()[0]
                        total[family] += 1
                        missed[family] += (ev.agent, ev.predicate, ev.target) not in found
            name = "hard" if hard else "soft"
            print(f"{level:>5}  {name:>5}  {clean / args.num:>6.3f}  {np.mean(trirec):>13.3f}  {rate:>8.0f}")
    print("\ngold events the parser misses in the hard reconstructions, per action family:")
    for family in sorted(total):
        print(f"  {family:<10} {missed[family]:>3} / {total[family]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
