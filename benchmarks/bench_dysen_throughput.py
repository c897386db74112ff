"""Throughput of the full LLM pipeline (Steps I-III) against a local OpenAI-compatible server.

The server (``python -m dysen.testing``: ``FakeChatServer`` + ``DysenOracle``, in its own process like a
real model server) answers every request after a simulated model latency (default 100 ms). The same
prompts run three ways, side by side in one process:

1. sequential: one prompt at a time (``concurrency=1``);
2. concurrent: 16 prompts in flight (``LLMPlanner.aplan_many(concurrency=16)``, backend concurrency 16);
3. cached re-run: the concurrent run again with a warm SQLite response cache.

It prints wall time, prompts/s, model calls per prompt (checked against the bound ``2 + segments``) and the
speed-up. Usage::

    .venv/bin/python benchmarks/bench_dysen_throughput.py            # 200 prompts, 100 ms latency
    .venv/bin/python benchmarks/bench_dysen_throughput.py --prompts 40 --latency 0.05   # quick look
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dsg
from dysen.chat import CachedChatModel, OpenAIChatModel
from dysen.evaluation import load_planner_gold
from dysen.llm.planner import LLMPlanner

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle"]
ACTIONS = ["moves left", "moves right", "moves up", "moves down", "jumps", "spins", "grows", "shrinks"]
TEMPLATES = [
    "The {a} {s} {x}, then the {b} {t} {y}.",
    "Before the {b} {t} {y}, the {a} {s} {x}.",
    "While the {a} {s} {x}, the {b} {t} {y}.",
    "The {a} {s} approaches the {b} {t}, then it {y}.",
    "The {a} {s} {x} and the {b} {t} {y} at the same time.",
]


def make_prompts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct prompts: procedural-world captions plus the labelled set's captions."""
    rng = random.Random(seed)
    gold = [g.caption for g in load_planner_gold()]
    out: list[str] = []
    seen: set[str] = set()
    for k in itertools.count():
        if len(out) >= n:
            break
        if k % 3 == 2 and gold:
            text = gold.pop(rng.randrange(len(gold)))
        else:
            a, b = rng.sample(COLOURS, 2)
            s, t = rng.choice(SHAPES), rng.choice(SHAPES)
            x, y = rng.sample(ACTIONS, 2)
            text = rng.choice(TEMPLATES).format(a=a, b=b, s=s, t=t, x=x, y=y)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def run(planner: LLMPlanner, prompts: list[str], concurrency: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    dsgs = planner.plan_many(prompts, concurrency=concurrency)
    return time.perf_counter() - t0, dsgs


class RemoteServer:
    """``python -m dysen.testing`` in a child process (its own interpreter lock, like a real model server)."""

    def __init__(self, latency: float, prewarm: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "dysen.testing", "--latency", str(latency)]
        if prewarm is not None:  # the oracle parses these captions up front: only the latency is simulated
            cmd += ["--prewarm", str(prewarm)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            raise RuntimeError(f"the fake server did not start: {self.base_url!r}")

    def _get(self, path: str) -> dict:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self._get("/_stats")

    def reset(self) -> None:
        self._get("/_reset")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1, help="simulated seconds per model call")
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    prompts = make_prompts(args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        prewarm = Path(tmp) / "prompts.jsonl"
        prewarm.write_text("".join(json.dumps(p) + "\n" for p in prompts), encoding="utf-8")
        server = RemoteServer(args.latency, prewarm)
        try:

            def planner(cache: Path | None = None) -> LLMPlanner:
                chat = OpenAIChatModel(
                    "bench-model",
                    base_url=server.base_url,
                    api_key="bench",
                    timeout=30,
                    max_concurrency=args.concurrency,
                )
                return LLMPlanner(chat if cache is None else CachedChatModel(chat, cache))

            server.reset()
            t_seq, seq = run(planner(), prompts, 1)
            calls_seq = server.stats()["count"]
            server.reset()
            cache = Path(tmp) / "cache.sqlite"
            t_conc, conc = run(planner(cache), prompts, args.concurrency)
            stats = server.stats()
            calls_conc, peak = stats["count"], stats["max_in_flight"]
            server.reset()
            t_cached, cached = run(planner(cache), prompts, args.concurrency)
            calls_cached = server.stats()["count"]
        finally:
            server.close()

    per_prompt = [int(dict(d.provenance.meta)["calls"]) for d in conc]
    bound = [2 + len(dsg.schedule_to_dsg(d.schedule).segments()) for d in conc]
    within = sum(c <= b for c, b in zip(per_prompt, bound))
    degraded = sum(d.provenance.is_degraded for d in conc)
    same = sum(a.frames == b.frames for a, b in zip(conc, cached))
    same_seq = sum(a.frames == b.frames for a, b in zip(seq, conc))
    rows = [
        ("sequential (1 in flight)", t_seq, calls_seq),
        (f"concurrent ({args.concurrency} in flight)", t_conc, calls_conc),
        ("cached re-run", t_cached, calls_cached),
    ]
    n = len(prompts)
    print(f"dysen LLM pipeline throughput: {n} prompts, {args.latency * 1000:.0f} ms simulated latency per call")
    print(f"{'run':30} {'wall s':>8} {'prompts/s':>10} {'server calls':>13} {'speed-up':>9}")
    for name, t, calls in rows:
        print(f"{name:30} {t:8.2f} {n / t:10.2f} {calls:13d} {t_seq / t:8.1f}x")
    print(
        f"calls per prompt: mean {statistics.mean(per_prompt):.2f}, min {min(per_prompt)}, max {max(per_prompt)}; "
        f"within 2 + segments: {within}/{n}; peak requests in flight: {peak}"
    )
    print(
        f"degraded DSGs: {degraded}/{n}; cached re-run identical: {same}/{n}; sequential == concurrent: {same_seq}/{n}"
    )
    print(f"target >= 10x concurrent speed-up: {'met' if t_seq / t_conc >= 10 else 'NOT met'} ({t_seq / t_conc:.1f}x)")


if __name__ == "__main__":
    main()
