"""Named budgets: how much data, training and evaluation every variant of an experiment gets.

* ``tiny`` — the CPU rehearsal: a few optimiser steps of a one-layer model per variant, 2 prompts with 2
  sampler steps. It checks the plumbing (data, stage I, planning, training, export, evaluation, tables, plots,
  resume), never the claims: its numbers are noise.
* ``gpu9`` — sized to fit Table 4 (5 variants x 3 seeds) into one 9-minute command on the lent GPU with
  ``--jobs 8`` (two waves of runs): the default model's GPU settings (``scripts/gpu_train.sh``: 8,192 videos,
  batch 64, bf16), stage I capped at 1 minute, each denoiser run at 2 minutes, 32 prompts per level. A step
  budget of 20,000 with a wall-time cap: a run that hits the cap stops early and the table reports the steps
  every variant reached. The caps are estimates, not measurements (no GPU was lent while this was written).
* ``full`` — the default model's budget (``scripts/train_default.sh``): stage I 1,500 steps, 20,000 denoiser
  steps per run, no wall-time cap, 64 prompts per level.

Every field can be overridden on the command line; the resolved budget is stored with the results and a
rerun with a different one is refused (results of two budgets never mix in one table).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["BUDGETS", "Budget", "BudgetError", "get_budget"]


class BudgetError(ValueError):
    """A budget name or field value is invalid (names which)."""


@dataclass(frozen=True)
class Budget:
    """Data, model size, training and evaluation budget shared by every variant and seed of an experiment."""

    name: str
    # data: the procedural world, levels 1..max_events mixed (vdm.training.world_source)
    train_size: int = 4096
    num_frames: int = 16
    resolution: int = 32
    max_events: int = 3
    # stage I (shared by every variant)
    vae_steps: int = 1500
    vae_minutes: float | None = None
    # denoiser runs (one per variant and seed)
    steps: int = 20_000
    minutes: float | None = None  # wall-time cap per training call (a resumed run gets a fresh cap)
    batch_size: int = 16
    mixed_precision: str = "no"  # "bf16" on GPUs (Accelerate autocast)
    checkpoint_every: int = 1000
    log_every: int = 100
    warmup_steps: int = 100
    backbone_overrides: dict[str, Any] = field(default_factory=dict)
    dsg_hidden: int = 128
    dsg_layers: int = 2
    dsg_heads: int = 4
    # evaluation on world test prompts
    eval_num: int = 64
    eval_levels: tuple[int, ...] = (3, 4)
    eval_steps: int = 20
    eval_batch: int = 32
    guidance: float = 3.0

    def __post_init__(self) -> None:
        positive = (
            "train_size",
            "num_frames",
            "vae_steps",
            "steps",
            "batch_size",
            "eval_num",
            "eval_steps",
            "eval_batch",
        )
        for name in positive:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise BudgetError(f"budget field {name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("minutes", "vae_minutes"):
            val = getattr(self, name)
            if val is not None and val <= 0:
                raise BudgetError(f"budget field {name} must be > 0 minutes or None, got {val!r}")
        if not self.eval_levels or any(k not in range(1, 7) for k in self.eval_levels):
            raise BudgetError(f"eval_levels must be world levels 1-6, got {self.eval_levels!r}")
        object.__setattr__(self, "eval_levels", tuple(self.eval_levels))

    def override(self, **changes: Any) -> Budget:
        """A copy with ``changes`` (``None`` values are ignored: "not given on the command line")."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise BudgetError(f"unknown budget fields {bad}; known: {sorted(known)}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["eval_levels"] = list(self.eval_levels)
        return d

    def train_config(self) -> dict[str, Any]:
        """The :class:`vdm.training.TrainConfig` fields this budget fixes (stage, paths and seed come per run)."""
        return {
            "num_frames": self.num_frames,
            "resolution": self.resolution,
            "max_events": self.max_events,
            "train_size": self.train_size,
            "max_steps": self.steps,
            "max_minutes": self.minutes,
            "batch_size": self.batch_size,
            "mixed_precision": self.mixed_precision,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
            "warmup_steps": self.warmup_steps,
            "backbone_overrides": dict(self.backbone_overrides),
            "dsg_hidden": self.dsg_hidden,
            "dsg_layers": self.dsg_layers,
            "dsg_heads": self.dsg_heads,
        }


BUDGETS: dict[str, Budget] = {
    "tiny": Budget(
        "tiny",
        train_size=16,
        num_frames=8,
        vae_steps=2,
        steps=2,
        batch_size=2,
        checkpoint_every=0,
        log_every=1,
        warmup_steps=1,
        backbone_overrides={
            "num_layers": 1,
            "num_attention_heads": 2,
            "attention_head_dim": 16,
            "cross_attention_dim": 32,
        },
        dsg_hidden=32,
        dsg_layers=1,
        dsg_heads=2,
        eval_num=2,
        eval_levels=(3,),
        eval_steps=2,
        eval_batch=2,
    ),
    "gpu9": Budget(
        "gpu9",
        train_size=8192,
        vae_minutes=1.0,
        minutes=2.0,
        batch_size=64,
        mixed_precision="bf16",
        checkpoint_every=500,
        eval_num=32,
    ),
    "full": Budget("full"),
}


def get_budget(name: str) -> Budget:
    if name not in BUDGETS:
        raise BudgetError(f"unknown budget {name!r}; known: {sorted(BUDGETS)}")
    return BUDGETS[name]
