"""Frame interpolation ×2 twice (16 keyframes -> 61 frames, paper §5.1): quality and speed of the methods.

Scenes with exact in-between frames (``vdm.interpolation.testing``), motions scaled with the frame size:

* ``square``: a square (1/4 of the frame) translating (3, 2) px per keyframe at 64² (×4 at 256²) on a flat
  background; odd per-step motions put the true in-betweens at sub-pixel positions;
* ``square/texture``: the same square over a static smooth texture (occlusions: revealed and covered background);
* ``texture``: a smooth random texture translating (2.5, -1.5) px per keyframe at 64².

For each: PSNR (dB) of the 45 new frames of 16 -> 61 against the true frames (keyframes excluded), and wall and
process-CPU milliseconds per 16-frame video (medians of ``--repeats``), all methods measured side by side in one
run. On a machine whose cores are busy with other work, use ``--threads 1``: with several intra-op threads every
small tensor op waits for a descheduled thread (measured on a shared 2-core box: 50× slower), and the CPU column is
the figure that does not depend on the neighbours.

Run: ``python benchmarks/bench_interpolation.py [--sizes 64 256] [--repeats 3] [--threads N] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vdm.interpolation import LinearBlend, MotionCompensatedInterpolator, interpolate
from vdm.interpolation.testing import moving_square, psnr, shifting_texture, timeline


def scenes(size: int) -> dict:
    scale = size / 64
    background = shifting_texture([0.0], size, velocity=(0.0, 0.0), max_frequency=0.12 / scale, seed=3)[0]
    square = dict(square=16 * scale, start=(4 * scale, 10 * scale), velocity=(3 * scale, 2 * scale))
    return {
        "square": lambda t: moving_square(t, size, **square),
        "square/texture": lambda t: moving_square(t, size, **square, background=background),
        "texture": lambda t: shifting_texture(
            t, size, velocity=(2.5 * scale, -1.5 * scale), max_frequency=0.15 / scale
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = {"LinearBlend": LinearBlend(), "MotionCompensated": MotionCompensatedInterpolator()}

    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; 16 -> 61 frames (x2 twice)\n")
    print("| size | scene | method | PSNR new frames (dB) | wall ms / video | CPU ms / video |")
    print("|---:|---|---|---:|---:|---:|")
    new = torch.ones(61, dtype=torch.bool)
    new[::4] = False
    for size in args.sizes:
        for name, scene in scenes(size).items():
            keyframes, truth = scene(timeline(16)).to(device), scene(timeline(16, 2)).to(device)
            for label, method in methods.items():
                interpolate(keyframes[:3], 2, method)  # warm-up
                wall, cpu, out = [], [], None
                for _ in range(args.repeats):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    out = interpolate(keyframes, 2, method)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    wall.append((time.perf_counter() - start) * 1000)
                    cpu.append((time.process_time() - start_cpu) * 1000)
                quality = psnr(out[new], truth[new])
                wall_ms, cpu_ms = statistics.median(wall), statistics.median(cpu)
                print(f"| {size} | {name} | {label} | {quality:.2f} | {wall_ms:.0f} | {cpu_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
