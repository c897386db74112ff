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


def test_the_text_window_reads_long_prompts_and_changes_nothing_for_short_ones(default_pipe, caplog):
    """The shipped pipelines read 96 tokens at generation, the recipe trained with 32: a prompt that fits both
    gives the same video (padding is masked), a longer one reaches the text branch whole."""
    assert default_pipe.config.max_text_length == 96
    narrow = SlotVDMPipeline.from_pipe(default_pipe, max_text_length=32)
    same = [
        p(PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent").frames
        for p in (default_pipe, narrow)
    ]
    assert torch.equal(*same)
    long = (
        "There is a big blue square, a tiny green triangle and a small red circle on the left. " + PROMPT + " The end."
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="vdm.text"):
        default_pipe.encode_prompt(long, device="cpu", num_videos_per_prompt=1, do_classifier_free_guidance=False)
    assert not [r for r in caplog.records if r.name == "vdm.text"]
    with caplog.at_level("WARNING", logger="vdm.text"):
        narrow.encode_prompt(long, device="cpu", num_videos_per_prompt=1, do_classifier_free_guidance=False)
    assert "longer than the text encoder's 32 tokens" in caplog.text
