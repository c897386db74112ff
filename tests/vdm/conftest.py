import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sys
from pathlib import Path

import pytest
import torch

from dsg import DSGVocab
from vdm.models import PRESETS, DSGVideoDenoiser
from vdm.models.dsg_encoder import DSGConditionEncoder
from vdm.models.vae import build_vae
from vdm.pipelines import DysenVDMPipeline

sys.path.insert(0, str(Path(__file__).parent))  # lets test modules import helpers from this folder

from vdm_fixtures import F, make_graph


@pytest.fixture(scope="session")
def pipe():
    """A tiny DysenVDMPipeline (random weights) with the real offline planner and text encoder."""
    from diffusers import DDIMScheduler

    torch.manual_seed(0)
    vocab = DSGVocab.build([make_graph(), make_graph("grow", "shrink")])
    enc = DSGConditionEncoder.from_vocab(vocab, hidden=32, num_layers=1, heads=4, dropout=0.0)
    cfg = dict(PRESETS["latte-tiny"][1], num_layers=1, video_length=F)
    den = DSGVideoDenoiser("latte", cfg, dsg_dim=32, gate_init=1.0)
    vae = build_vae("vae-tiny", block_out_channels=(16, 16, 16))
    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    p = DysenVDMPipeline(den, vae, sched, enc, num_frames=F).to("cpu")
    for m in (den, vae, enc):
        m.eval()
    p.set_progress_bar_config(disable=True)
    return p
