"""Training stages on a tiny source: loss falls, resume is exact, 2-process data parallelism keeps replicas equal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vdm.training import TrainConfig, TrainConfigError, train
from vdm.training.checkpoint import CheckpointError, latest_checkpoint, load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from ddp_train import TinySource


def _cfg(out, **kw):
    base = dict(
        output_dir=str(out),
        num_frames=4,
        batch_size=2,
        warmup_steps=1,
        log_every=100,
        checkpoint_every=0,
        dsg_hidden=32,
        dsg_layers=1,
        ema_decay=0.9,
        learning_rate=1e-3,
        backbone_overrides={"num_layers": 1},
    )
    base.update(kw)
    return TrainConfig(**base)


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_loss_falls_and_exports(tmp_path):
    res = train(_cfg(tmp_path, max_steps=30), TinySource())
    losses = res["losses"]
    assert len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert (tmp_path / "denoiser" / "config.json").exists() and (tmp_path / "dsg_encoder" / "config.json").exists()
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000030"


def test_resume_is_exact(tmp_path):
    straight = train(_cfg(tmp_path / "a", max_steps=6), TinySource())
    train(_cfg(tmp_path / "b", max_steps=4, checkpoint_every=2), TinySource())
    resumed = train(_cfg(tmp_path / "b", max_steps=6), TinySource())
    assert resumed["steps"] == 6 and len(resumed["losses"]) == 2
    assert torch.allclose(_flat(straight["module"]), _flat(resumed["module"]), atol=1e-6)


def test_vae_stage_and_text_only_stage(tmp_path):
    vae = train(_cfg(tmp_path / "vae", stage="vae", max_steps=3, ema_decay=None), TinySource())
    assert (tmp_path / "vae" / "vae" / "config.json").exists() and len(vae["losses"]) == 3
    text = train(
        _cfg(tmp_path / "text", stage="text", max_steps=2, vae_path=str(tmp_path / "vae" / "vae")), TinySource()
    )
    assert text["module"].dsg_encoder is None and not text["module"].denoiser.uses_dsg


def test_config_and_checkpoint_errors(tmp_path):
    with pytest.raises(TrainConfigError, match="stage"):
        TrainConfig(stage="nope")
    with pytest.raises(TrainConfigError, match="unknown training config keys"):
        TrainConfig.from_dict({"batchsize": 3})
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(TrainConfigError, match="cannot read"):
        TrainConfig.from_json(tmp_path / "c.json")
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path, torch.nn.Linear(2, 2))


def test_two_process_data_parallel_keeps_replicas_identical(tmp_path):
    """``accelerate launch --multi_gpu --num_processes 2`` on a CPU-only machine runs 2 gloo processes."""
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [
        str(accelerate),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "29561",
        str(Path(__file__).parent / "ddp_train.py"),
        str(tmp_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    assert ranks[0]["sum"] == ranks[1]["sum"] and ranks[0]["abs"] == ranks[1]["abs"]


def test_export_keeps_a_non_default_text_encoder(tmp_path):
    """A run trained with ``text_encoder_path`` exports that encoder with the pipeline (not the built-in one)."""
    from vdm.text import default_text_encoder_path
    from vdm.training.export import export_pipeline

    vae = train(_cfg(tmp_path / "vae", stage="vae", max_steps=1, ema_decay=None), TinySource())
    assert vae["steps"] == 1
    cfg = _cfg(tmp_path / "run", max_steps=1, vae_path=str(tmp_path / "vae" / "vae"))
    cfg = cfg.override(text_encoder_path=str(default_text_encoder_path()))
    train(cfg, TinySource())
    out = export_pipeline(tmp_path / "run", tmp_path / "vae" / "vae", tmp_path / "pipe")
    assert (out / "text_encoder" / "config.json").exists() and (out / "tokenizer").exists()
