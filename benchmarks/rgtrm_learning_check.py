"""Learning check: does the recurrence of RGTrm let it solve a task a static graph transformer cannot?

Task ("has it been touched yet?"): every DSG has ``--frames`` frames with 4 entities present in all of them,
each pair of neighbours linked by a neutral ``near`` relation in every frame. In one random frame (or
in none, 20 % of the DSGs) two random entities are linked by ``touch``. For every entity instance the
target is 1 iff the entity took part in ``touch`` in this frame *or an earlier one*.

After the touch frame the graphs look exactly like the ones before it, so a model that sees frames on
their own (the static ``TransformerConv`` stack, with the frame index as its only clue) can only guess
from the frame index; a model with memory over frames can be exact. RGTrm in ``"paper"`` mode sees
``num_layers - 1`` frames back (eq. 4 uses the raw previous query), in ``"scan"`` mode all the way back.

    .venv/bin/python benchmarks/rgtrm_learning_check.py            # about 1 CPU minute

Prints a table of held-out accuracies; exits with status 1 if RGTrm (scan) does not beat the static
transformer by at least 10 points on the frames that need memory.
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from torch import nn

import dsg
from rgtrm import ENCODERS, DSGEncoder

LABELS = ["man", "woman", "dog", "cat", "ball", "cup"]


def make_dsg(rng: random.Random, num_frames: int) -> tuple[dsg.DynamicSceneGraph, int | None, tuple[str, str]]:
    ents = [dsg.Entity(f"e{i}", rng.choice(LABELS)) for i in range(4)]
    ids = [e.id for e in ents]
    near = tuple(dsg.Relation(ids[i], "near", ids[(i + 1) % 4]) for i in range(4))
    touch_at = rng.randrange(num_frames) if rng.random() < 0.8 else None
    pair = tuple(rng.sample(ids, 2))
    frames = []
    for m in range(num_frames):
        rels = near + ((dsg.Relation(pair[0], "touch", pair[1]),) if m == touch_at else ())
        frames.append(dsg.SceneGraph(tuple(ids), (), rels))
    return dsg.DynamicSceneGraph(tuple(frames), tuple(ents)), touch_at, pair  # type: ignore[return-value]


def make_split(rng: random.Random, n: int, num_frames: int, vocab: dsg.DSGVocab):
    """Collated batch, per-instance targets, and a mask of instances whose target needs memory."""
    items = [make_dsg(rng, num_frames) for _ in range(n)]
    batch = dsg.collate([d for d, _, _ in items], vocab)
    target = torch.zeros(batch.num_instances)
    needs_memory = torch.zeros(batch.num_instances, dtype=torch.bool)
    for g, (_, touch_at, pair) in enumerate(items):
        ids = batch.meta[g]["entity_ids"]
        e0 = int(batch.entity_ptr[g])
        for i in range(int(batch.inst_ptr[g]), int(batch.inst_ptr[g + 1])):
            ent, m = ids[int(batch.inst_entity[i]) - e0], int(batch.inst_frame[i])
            if touch_at is not None and ent in pair and m >= touch_at:
                target[i] = 1.0
            needs_memory[i] = touch_at is not None and m > touch_at
    return batch, target, needs_memory


class NodeClassifier(nn.Module):
    def __init__(self, encoder: DSGEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.hidden, 1)

    def forward(self, batch) -> torch.Tensor:
        return self.head(self.encoder(batch).nodes).squeeze(-1)


def run(name: str, arch: str, opts: dict, args, vocab, train, test) -> dict[str, float]:
    torch.manual_seed(args.seed)
    enc = ENCODERS[arch](vocab, hidden=args.hidden, num_layers=args.layers, heads=4, dropout=0.0, **opts)
    model = NodeClassifier(enc)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    t0 = time.perf_counter()
    for step in range(args.steps):
        batch, target, _ = train[step % len(train)]
        loss = nn.functional.binary_cross_entropy_with_logits(model(batch), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    batch, target, memory = test
    with torch.no_grad():
        pred = (model(batch) > 0).float()
    right = pred == target
    return {
        "model": name,
        "acc": right.float().mean().item(),
        "acc_memory": right[memory].float().mean().item(),
        "acc_no_memory": right[~memory].float().mean().item(),
        "final_loss": loss.item(),
        "train_s": train_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rng = random.Random(args.seed)
    vocab = dsg.DSGVocab(
        dsg.Vocabulary(LABELS, frozen=True), dsg.Vocabulary(frozen=True), dsg.Vocabulary(["near", "touch"], frozen=True)
    )
    train = [make_split(rng, args.batch, args.frames, vocab) for _ in range(40)]
    test = make_split(rng, 256, args.frames, vocab)
    memory_rate = test[2].float().mean().item()
    print(
        f"task: {args.frames} frames x 4 entities; {len(train)} training batches of {args.batch}, "
        f"{args.steps} steps; test 256 DSGs ({memory_rate:.0%} of instances need memory)"
    )
    models = [
        ("static TransformerConv", "transformer", {}),
        ("RGTrm paper", "rgtrm", {"recurrence": "paper"}),
        ("RGTrm scan", "rgtrm", {"recurrence": "scan"}),
        ("RGNN (GRU)", "rgnn", {}),
    ]
    rows = [run(name, arch, opts, args, vocab, train, test) for name, arch, opts in models]
    print("\n| model | test acc | acc (needs memory) | acc (rest) | final train loss | train s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['acc']:.3f} | {r['acc_memory']:.3f} | {r['acc_no_memory']:.3f} "
            f"| {r['final_loss']:.3f} | {r['train_s']:.0f} |"
        )
    by = {r["model"]: r for r in rows}
    margin = by["RGTrm scan"]["acc_memory"] - by["static TransformerConv"]["acc_memory"]
    print(f"\nRGTrm (scan) - static on memory instances: {margin:+.3f}")
    return 0 if margin >= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
