"""DSG fusion overhead: training-step time and peak memory, DSG-fused vs text-only, for both backbones.

Issue 9 targets: fused/text-only <= 1.2x step time and <= 1.15x peak memory. Each configuration runs in its
own subprocess (so peak RSS is its own), measured side by side in one invocation. The DSG encoder (RGTrm)
is included in the fused step, as in training.

Run: ``python benchmarks/bench_fusion.py [--batch 8] [--steps 6]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

PRESETS = ("latte-tiny", "unet3d-tiny")


def child(preset: str, fused: bool, batch: int, steps: int) -> dict:
    import torch

    import rgtrm.encoder  # noqa: F401  (both variants import the same code, so RSS compares tensors, not imports)
    from dsg import DSGVocab, EventSchedule, schedule_to_dsg
    from vdm.models import DSGVideoDenoiser
    from vdm.models.dsg_encoder import DSGConditionEncoder
    from vdm.training.trainer import DenoiserTrainModule

    torch.manual_seed(0)
    torch.set_num_threads(2)
    f = 16
    den = DSGVideoDenoiser.from_preset(preset, dsg_dim=128 if fused else None, gate_init=0.1)
    sched = EventSchedule.from_tuples(
        [
            ("red circle", "move left", None, (0, 2)),
            ("blue square", "jump", None, (1, 3)),
            ("red circle", "approach", "blue square", (3, 5)),
        ]
    )
    graphs = [schedule_to_dsg(sched)] * batch
    enc = DSGConditionEncoder.from_vocab(DSGVocab.build(graphs), hidden=128, num_layers=2, heads=4) if fused else None
    mod = DenoiserTrainModule(den, enc)
    opt = torch.optim.AdamW(mod.parameters(), 1e-4)
    x = torch.randn(batch, 4, f, 8, 8)
    txt, tm = torch.randn(batch, 32, 384), torch.ones(batch, 32, dtype=torch.bool)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss = (mod(x, torch.randint(0, 1000, (batch,)), txt, tm, graphs if fused else None) - x).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i:  # first step warms up
            times.append(time.perf_counter() - t0)
    return {
        "ms": 1e3 * sorted(times)[len(times) // 2],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "params_m": sum(p.numel() for p in mod.parameters()) / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--child", nargs=2, metavar=("PRESET", "FUSED"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1] == "1", args.batch, args.steps)))
        return
    rows = {}
    for preset in PRESETS:
        for fused in (False, True):
            cmd = [
                sys.executable,
                __file__,
                "--child",
                preset,
                str(int(fused)),
                "--batch",
                str(args.batch),
                "--steps",
                str(args.steps),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if res.returncode:
                raise SystemExit(res.stderr)
            rows[preset, fused] = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"training step, batch {args.batch} x 16 frames x 8x8x4 latents, 2 threads (median of {args.steps})\n")
    print(f"{'backbone':<14}{'variant':<12}{'params M':>10}{'step ms':>10}{'peak RSS MB':>13}{'time x':>8}{'mem x':>8}")
    for preset in PRESETS:
        base = rows[preset, False]
        for fused in (False, True):
            r = rows[preset, fused]
            print(
                f"{preset:<14}{'DSG-fused' if fused else 'text-only':<12}{r['params_m']:>10.2f}{r['ms']:>10.1f}"
                f"{r['rss_mb']:>13.0f}{r['ms'] / base['ms']:>7.2f}x{r['rss_mb'] / base['rss_mb']:>7.2f}x"
            )
    print("\ntargets: DSG-fused <= 1.2x time and <= 1.15x memory of text-only")


if __name__ == "__main__":
    main()
