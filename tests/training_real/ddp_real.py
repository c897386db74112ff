"""Run by test_real_cli.py under ``accelerate launch`` (2 CPU processes): ``dysen-vdm train ARGS...`` with the
trainer wrapped so that every rank writes a checksum of its trained parameters to ``RANKS_DIR/rank<r>.json``."""

import json
import sys
from pathlib import Path

import torch

import vdm.training.trainer as trainer
from vdm.cli import main

ranks_dir = Path(sys.argv[1])
train = trainer.train


def checked_train(cfg, source, **kwargs):
    from accelerate import PartialState

    result = train(cfg, source, **kwargs)
    rank = PartialState().process_index
    flat = torch.cat([p.detach().flatten() for p in result["module"].parameters()])
    ranks_dir.mkdir(parents=True, exist_ok=True)
    (ranks_dir / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "sum": float(flat.double().sum()),
                "abs": float(flat.double().abs().sum()),
                "steps": result["steps"],
                "first_captions": source.batch(rank, 1).captions,
            }
        )
    )
    return result


trainer.train = checked_train
sys.exit(main(sys.argv[2:]))
