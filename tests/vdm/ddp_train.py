"""Run by tests/vdm/test_training.py under ``accelerate launch --num_processes 2 --cpu``: a few training steps,
then every rank writes a checksum of its parameters so the test can check the replicas stayed identical."""

import json
import sys

import torch

from dsg import DSGVocab, EventSchedule, schedule_to_dsg
from vdm.training import TrainConfig, train
from vdm.training.data import VideoBatch


class TinySource:
    def __init__(self) -> None:
        self.graphs = [
            schedule_to_dsg(EventSchedule.from_tuples([("red circle", p, None, (0, 2))]), text=f"the red circle {p}s")
            for p in ("jump", "grow", "rotate", "move left")
        ]

    def batch(self, index: int, batch_size: int) -> VideoBatch:
        g = torch.Generator().manual_seed(index)
        video = torch.rand(batch_size, 4, 3, 32, 32, generator=g) * 2 - 1
        picks = [self.graphs[(index + j) % 4] for j in range(batch_size)]
        return VideoBatch(video, [d.text for d in picks], picks)

    def vocab(self) -> DSGVocab:
        return DSGVocab.build(self.graphs)


def main(out: str) -> None:
    cfg = TrainConfig(
        output_dir=out,
        num_frames=4,
        batch_size=2,
        max_steps=3,
        warmup_steps=1,
        log_every=1,
        checkpoint_every=0,
        dsg_hidden=32,
        dsg_layers=1,
        ema_decay=None,
        backbone_preset="latte-tiny",
        backbone_overrides={"num_layers": 1},
    )
    result = train(cfg, TinySource())
    from accelerate import PartialState

    rank = PartialState().process_index
    flat = torch.cat([p.detach().flatten() for p in result["module"].parameters()])
    with open(f"{out}/rank{rank}.json", "w") as fh:
        json.dump(
            {"sum": float(flat.double().sum()), "abs": float(flat.double().abs().sum()), "steps": result["steps"]}, fh
        )


if __name__ == "__main__":
    main(sys.argv[1])
