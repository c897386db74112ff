"""DysenVDMPipeline: planning through the protocol, guidance, DSG control, save/load, errors."""

import numpy as np
import pytest
import torch
from vdm_fixtures import F
from vdm_fixtures import make_graph as _graph

import dsg
from dsg import EventSchedule, schedule_to_dsg
from vdm.pipelines import DysenVDMPipeline, PipelineInputError, PlannerSpecError, load_planner
from vdm.text import TextEncoder, TokenizerError, check_tokenizer


def _run(pipe, **kw):
    kw.setdefault("num_inference_steps", 3)
    return pipe(generator=torch.Generator().manual_seed(0), **kw)


def test_prompt_is_planned_through_the_protocol(pipe):
    out = _run(pipe, prompt="the red circle moves left, then the blue square jumps")
    assert out.frames.shape == (1, F, 32, 32, 3)
    assert out.frames.min() >= 0.0 and out.frames.max() <= 1.0
    plan = out.dsgs[0]
    assert plan.provenance.producer.startswith("RuleBasedPlanner")
    assert [e.predicate for e in plan.schedule.events][:2] == ["move left", "jump"]


def test_edited_dsg_controls_the_video(pipe):
    a = _run(pipe, dsg=_graph()).frames
    b = _run(pipe, dsg=_graph("grow", "shrink")).frames
    assert not np.allclose(a, b)
    again = _run(pipe, dsg=_graph()).frames
    np.testing.assert_allclose(a, again, atol=1e-6)  # deterministic for a seed


def test_batch_and_guidance(pipe):
    graphs = [_graph(), _graph("grow", "shrink")]
    both = _run(pipe, dsg=graphs, guidance_scale=4.0).frames
    one = _run(pipe, dsg=graphs[:1], guidance_scale=4.0).frames
    assert both.shape[0] == 2
    no_cfg = _run(pipe, dsg=graphs[:1], guidance_scale=1.0).frames
    assert not np.allclose(one, no_cfg)


def test_output_types_and_interpolation(pipe):
    pt = _run(pipe, dsg=_graph(), output_type="pt")
    assert pt.frames.shape == (1, F, 3, 32, 32) and torch.is_tensor(pt.frames)
    lat = _run(pipe, dsg=_graph(), output_type="latent")
    assert lat.frames.shape == (1, 4, F, 8, 8)
    pil = _run(pipe, dsg=_graph(), output_type="pil")
    assert len(pil.frames[0]) == F and pil.frames[0][0].size == (32, 32)
    inter = _run(pipe, dsg=_graph(), interpolate=2, output_type="pt")
    assert inter.frames.shape[1] == 4 * (F - 1) + 1 and inter.keyframes.shape[1] == F


def test_save_and_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    assert not (tmp_path / "text_encoder").exists()  # the default encoder ships with its package
    assert all(p.suffix != ".bin" for p in tmp_path.rglob("*") if p.is_file())
    again = DysenVDMPipeline.from_pretrained(tmp_path)
    again.set_progress_bar_config(disable=True)
    np.testing.assert_allclose(_run(again, dsg=_graph()).frames, _run(pipe, dsg=_graph()).frames, atol=1e-5)


def test_input_errors(pipe):
    with pytest.raises(PipelineInputError, match="give a prompt"):
        pipe()
    with pytest.raises(PipelineInputError, match="one DSG per prompt"):
        pipe(prompt=["a", "b"], dsg=_graph())
    with pytest.raises(PipelineInputError, match="output_type"):
        pipe(dsg=_graph(), output_type="gif")
    with pytest.raises(PipelineInputError, match="multiples of 4"):
        pipe(dsg=_graph(), height=30)
    with pytest.raises(PipelineInputError, match="latents must have shape"):
        pipe(dsg=_graph(), latents=torch.zeros(1, 4, 2, 8, 8))
    with pytest.raises(PipelineInputError, match="num_inference_steps"):
        pipe(dsg=_graph(), num_inference_steps=0)  # was a ZeroDivisionError inside the scheduler
    with pytest.raises(PipelineInputError, match="interpolate"):
        pipe(dsg=_graph(), interpolate=-1)


def test_planner_specs():
    planner = load_planner("dysen:RuleBasedPlanner")
    assert isinstance(planner, dsg.Planner)
    with pytest.raises(PlannerSpecError, match="module:Class"):
        load_planner("dysen.RuleBasedPlanner")
    with pytest.raises(PlannerSpecError, match="cannot load"):
        load_planner("nope_pkg:Planner")
    with pytest.raises(PlannerSpecError, match="not a planner"):
        load_planner(object())


def test_text_encoder_and_tokenizer_trap(caplog):
    te = TextEncoder.from_pretrained(max_length=16)
    with caplog.at_level("WARNING", logger="vdm.text"):
        states, mask = te(["a red circle moves left", ""])
    assert states.shape == (2, 16, 384) and mask[0].sum() > mask[1].sum()
    assert not caplog.records
    long = "a red circle moves left, then the blue square jumps, then the green triangle grows big"
    with caplog.at_level("WARNING", logger="vdm.text"):
        cut_states, _ = te([long])
    assert len(caplog.records) == 1 and "(first: 'green triangle grows big')" in caplog.text
    assert cut_states.shape == (1, 16, 384)

    class Stub:  # what CLIPTokenizer.from_pretrained("<hub id>") returns offline
        def __len__(self):
            return 2

    with pytest.raises(TokenizerError, match="only 2 tokens"):
        check_tokenizer(Stub())


def test_guidance_with_multi_entity_frames(pipe):
    """The unconditional (null) DSG has one token per frame; planned frames with two entities have more."""
    s = EventSchedule.from_tuples([("red circle", "approach", "blue square", (0, 2))])
    g = schedule_to_dsg(s, text="the red circle approaches the blue square")
    out = _run(pipe, dsg=[g, _graph()], guidance_scale=3.0)
    assert out.frames.shape[0] == 2 and np.isfinite(out.frames).all()


def test_text_window_never_exceeds_the_encoders_positions():
    from transformers import BertConfig, BertModel

    tok = TextEncoder.from_pretrained().tokenizer
    cfg = BertConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=16)  # fmt: skip
    te = TextEncoder(tok, BertModel(cfg).eval(), max_length=96)
    assert te.window == 16
    states, mask = te(["a red circle moves left, then the blue square jumps, then the green triangle grows"])
    assert states.shape == (1, 16, 8) and mask.all()
