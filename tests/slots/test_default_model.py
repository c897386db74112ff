"""The shipped default models (vdm/weights/default, default-text): load, size limits, and they draw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vdm.cli import DEFAULT_MODEL
from vdm.slots import SlotVDMPipeline

TEXT_MODEL = DEFAULT_MODEL.parent / "default-text"
PROMPT = "The red circle moves right, then the blue square jumps."


@pytest.mark.parametrize("folder", [DEFAULT_MODEL, TEXT_MODEL], ids=["dsg", "text"])
def test_shipped_folders_are_small_safetensors_slot_pipelines(folder: Path):
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "SlotVDMPipeline"
    assert 0.0 < index["default_noise_scale"] <= 1.0 and index["default_guidance"] >= 1.0
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".pkl", ".ckpt")]  # no pickles
    assert max(p.stat().st_size for p in files) <= 16 * 2**20


@pytest.fixture(scope="module")
def default_pipe() -> SlotVDMPipeline:
    pipe = SlotVDMPipeline.from_pretrained(DEFAULT_MODEL, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_default_model_draws_the_prompted_entities_and_follows_its_dsg(default_pipe):
    from vdm.world import WorldConfig
    from vdm.world.parser import WorldParser

    parser = WorldParser(WorldConfig(num_frames=16, height=32, width=32))
    out = default_pipe(PROMPT, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert default_pipe.denoiser.uses_dsg and out.dsgs[0] is not None
    ids = {e.id for e in out.dsgs[0].entities}
    assert ids == {"red circle", "blue square"}
    parsed = parser.parse(out.frames[0], value_range=(0.0, 1.0), cast=sorted(ids))
    seen = {o for sg in parsed.frames for o in sg.objects}
    assert ids <= seen  # both entities drawn in their colours
    # an edited DSG steers the video: the same noise, but only the square planned -> no red circle drawn
    edited = default_pipe.planner.plan("The blue square jumps.")
    out2 = default_pipe(PROMPT, dsg=edited, generator=torch.Generator().manual_seed(0), output_type="pt")
    parsed2 = parser.parse(out2.frames[0], value_range=(0.0, 1.0), cast=sorted(ids))
    assert "red circle" not in {o for sg in parsed2.frames for o in sg.objects}
