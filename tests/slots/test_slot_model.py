"""The object-centric default model: slot autoencoder, slot denoiser, pipeline, recipe."""

from __future__ import annotations

import json

import pytest
import torch

from vdm.slots import SlotAutoencoder, SlotAutoencoderError, SlotDenoiser, SlotVDMPipeline
from vdm.slots.data import build_slot_data
from vdm.training.world_eval import prompted_entities, prompted_gold
from vdm.world import World, WorldConfig
from vdm.world.render import render_batch

CFG = WorldConfig(num_frames=8, height=32, width=32)


@pytest.fixture(scope="module")
def rendered():
    world = World(CFG, [2, 3])
    samples = world.sample_batch([(5, 0, i) for i in range(6)])
    out = render_batch([s.scene for s in samples])
    return samples, out.videos.permute(0, 1, 4, 2, 3).float() / 255, out.masks


def test_geometry_reads_centroid_scale_and_colour(rendered):
    _, video, masks = rendered
    ae = SlotAutoencoder()
    geo, vis = ae.geometry(video, masks)
    assert torch.equal(vis, masks.flatten(-2).any(-1))
    b, f, e = (int(i) for i in torch.nonzero(vis)[0])
    m = masks[b, f, e].float()
    ys, xs = torch.nonzero(m, as_tuple=True)
    assert geo[b, f, e, 0].item() == pytest.approx(((xs.float().mean() * 2 + 1) / 32 - 1).item(), abs=1e-5)
    assert geo[b, f, e, 1].item() == pytest.approx(((ys.float().mean() * 2 + 1) / 32 - 1).item(), abs=1e-5)
    assert geo[b, f, e, 2].exp().item() == pytest.approx(m.sum().sqrt().item() / 32, rel=1e-5)
    colour = video[b, f][:, m.bool()].mean(-1)
    assert torch.allclose(geo[b, f, e, 3:6], colour, atol=1e-5)
    # invisible instances: colour 0, place filled from the nearest visible frame of the track
    assert torch.all(geo[..., 3:6][~vis] == 0)


def test_fill_nearest_takes_the_closest_visible_frame():
    from vdm.slots.autoencoder import _fill_nearest

    values = torch.arange(5.0).view(1, 5, 1, 1)
    vis = torch.tensor([False, True, False, False, True]).view(1, 5, 1)
    out = _fill_nearest(values, vis).flatten().tolist()
    assert out == [1.0, 1.0, 1.0, 4.0, 4.0]


def test_decode_composites_the_slots(rendered):
    _, video, masks = rendered
    ae = SlotAutoencoder()
    z = ae.encode(video, masks)
    assert z.shape == (*masks.shape[:3], ae.latent_dim)
    out = ae.decode(z)
    assert out.shape == video.shape and out.min() >= 0 and out.max() <= 1
    # a slot whose colour is zero draws nothing
    z0 = z.clone()
    z0[..., 3:6] = 0
    assert torch.all(ae.decode(z0) == 0)


def test_stage_one_learns_the_glyphs_quickly(rendered):
    """A few dozen steps already bring the canonical-window BCE well below its start."""
    from vdm.slots.autoencoder import GEOMETRY_DIM

    _, video, masks = rendered
    torch.manual_seed(0)
    ae = SlotAutoencoder(channels=16)
    geo, vis = ae.geometry(video, masks)
    flat = vis.reshape(-1)
    m, g = masks.reshape(-1, 32, 32)[flat], geo.reshape(-1, GEOMETRY_DIM)[flat]
    opt = torch.optim.AdamW(ae.parameters(), 3e-3)
    first = ae.reconstruction_loss(m, g).item()
    for _ in range(40):
        loss = ae.reconstruction_loss(m, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first


def test_autoencoder_shape_errors_are_typed(rendered):
    _, video, masks = rendered
    ae = SlotAutoencoder()
    with pytest.raises(SlotAutoencoderError, match="masks"):
        ae.encode(video, masks[:, :2])
    with pytest.raises(SlotAutoencoderError, match="latents"):
        ae.decode(torch.zeros(1, 2, 3))
    with pytest.raises(SlotAutoencoderError, match="crop_size"):
        SlotAutoencoder(crop_size=10)


def test_latent_stats_normalise_and_round_trip(rendered, tmp_path):
    _, video, masks = rendered
    ae = SlotAutoencoder()
    z = ae.encode(video, masks)
    ae.set_latent_stats(z)
    n = ae.normalize(z)
    assert torch.allclose(n.reshape(-1, ae.latent_dim).mean(0), torch.zeros(ae.latent_dim), atol=1e-4)
    assert torch.allclose(ae.denormalize(n), z, atol=1e-5)
    ae.save_pretrained(tmp_path)
    back = SlotAutoencoder.from_pretrained(tmp_path)
    assert torch.allclose(back.normalize(z), n, atol=1e-6)


def _tokens(b: int, f: int, e: int, d: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(b, f, e, d), torch.ones(b, e, dtype=torch.bool)


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Zero-initialised output layers make a fresh model constant; give every parameter some signal."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def test_denoiser_is_equivariant_to_the_slot_order():
    torch.manual_seed(0)
    den = SlotDenoiser(latent_dim=10, num_frames=4, width=32, depth=2, heads=2, dsg_dim=16, text_dim=8)
    den = _perturbed(den).eval()
    x = torch.randn(2, 4, 3, 10)
    tok, mask = _tokens(2, 4, 3)
    text, tmask = torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)
    out = den(x, 500, text, tmask, tok, mask).sample
    perm = torch.tensor([2, 0, 1])
    out_p = den(x[:, :, perm], 500, text, tmask, tok[:, :, perm], mask[:, perm]).sample
    assert torch.allclose(out_p, out[:, :, perm], atol=1e-5)
    # the DSG branch is live: other tokens, other output
    assert not torch.allclose(den(x, 500, text, tmask, torch.randn_like(tok), mask).sample, out, atol=1e-4)


def test_text_only_denoiser_and_errors():
    den = SlotDenoiser(latent_dim=10, num_frames=4, max_slots=3, width=32, depth=1, heads=2, dsg_dim=None, text_dim=8)
    assert not den.uses_dsg
    out = den(torch.randn(1, 4, 3, 10), 10, torch.randn(1, 5, 8)).sample
    assert out.shape == (1, 4, 3, 10)
    with pytest.raises(ValueError, match="slots"):
        den(torch.randn(1, 4, 4, 10), 10, torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="frames"):
        den(torch.randn(1, 5, 3, 10), 10, torch.randn(1, 5, 8))
    dsg_model = SlotDenoiser(latent_dim=10, num_frames=4, width=32, depth=1, heads=2, dsg_dim=16, text_dim=8)
    with pytest.raises(ValueError, match="dsg entity tokens"):
        dsg_model(torch.randn(1, 4, 3, 10), 10, torch.randn(1, 5, 8))


def test_prompted_gold_drops_bystanders(rendered):
    samples, _, _ = rendered
    for s in samples:
        keep = prompted_entities(s.dsg)
        told = {ev.agent for ev in s.schedule} | {ev.target for ev in s.schedule if ev.target}
        assert told <= keep
        g = prompted_gold(s.dsg)
        assert {e.id for e in g.entities} == keep
        assert all(set(sg.objects) <= keep for sg in g.frames)
        assert len(g.schedule) == len(s.schedule)


def _tiny_pipeline(data, use_dsg: bool = True) -> SlotVDMPipeline:
    from vdm.slots.training import SlotTrainConfig, _build_module, build_slot_pipeline
    from vdm.training.world_source import WorldSource

    ae = SlotAutoencoder()
    ae.set_latent_stats(data.z)
    cfg = SlotTrainConfig(use_dsg=use_dsg, width=32, depth=1, heads=2, encoder_hidden=32, encoder_layers=1)
    vocab = WorldSource(CFG).vocab()
    module = _build_module(cfg, ae, vocab, text_dim=384, max_slots=data.z.shape[2])
    return build_slot_pipeline(module, ae, cfg)


@pytest.fixture(scope="module")
def data():
    return build_slot_data(SlotAutoencoder(), 12, levels=(2,), config=WorldConfig(num_frames=16, height=32, width=32))


def test_slot_data_orders_slots_like_the_dsg(data, tmp_path):
    assert data.z.shape[1:] == (16, 4, 10)
    for k, g in enumerate(data.dsgs):
        assert int(data.num_entities[k]) == len(g.entities)
        # padding slots are invisible
        assert torch.all(data.z[k, :, len(g.entities) :, 3:6] == 0)
    data.save(tmp_path)
    from vdm.slots.data import SlotData

    back = SlotData.load(tmp_path)
    assert torch.equal(back.z, data.z) and back.captions == data.captions and back.dsgs[0] == data.dsgs[0]


def test_pipeline_runs_round_trips_and_follows_an_edited_dsg(data, tmp_path):
    torch.manual_seed(0)
    pipe = _tiny_pipeline(data)
    graph = data.dsgs[0]
    gen = torch.Generator().manual_seed(0)
    out = pipe(dsg=graph, num_inference_steps=2, guidance_scale=2.0, generator=gen, output_type="pt")
    assert out.frames.shape == (1, 16, 3, 32, 32) and out.dsgs == [graph]
    lat = pipe(dsg=graph, num_inference_steps=2, output_type="latent").frames
    assert lat.shape == (1, 16, len(graph.entities), 10)
    pipe.save_pretrained(tmp_path / "p")
    index = json.loads((tmp_path / "p" / "model_index.json").read_text())
    assert index["_class_name"] == "SlotVDMPipeline"
    back = SlotVDMPipeline.from_pretrained(tmp_path / "p")
    back.set_progress_bar_config(disable=True)
    a = pipe(dsg=graph, num_inference_steps=2, generator=torch.Generator().manual_seed(1), output_type="latent").frames
    b = back(dsg=graph, num_inference_steps=2, generator=torch.Generator().manual_seed(1), output_type="latent").frames
    assert torch.allclose(a, b, atol=1e-5)


def test_pipeline_input_errors(data):
    from vdm.pipelines import PipelineInputError

    pipe = _tiny_pipeline(data)
    with pytest.raises(PipelineInputError, match="num_inference_steps"):
        pipe(dsg=data.dsgs[0], num_inference_steps=0)
    with pytest.raises(PipelineInputError, match="latents"):
        pipe(dsg=data.dsgs[0], num_inference_steps=1, latents=torch.zeros(1, 2, 3, 4))
    with pytest.raises(PipelineInputError, match="noise_scale"):
        pipe(dsg=data.dsgs[0], num_inference_steps=1, noise_scale=0.0)
    with pytest.raises(PipelineInputError, match="guidance_scale"):
        pipe(dsg=data.dsgs[0], num_inference_steps=1, guidance_scale=float("nan"))

    # the noise scale is the sampling temperature: the same generator, half the initial noise
    def sample(scale: float) -> torch.Tensor:
        gen = torch.Generator().manual_seed(3)
        return pipe(
            dsg=data.dsgs[0],
            num_inference_steps=1,
            noise_scale=scale,
            generator=gen,
            guidance_scale=1.0,
            output_type="latent",
        ).frames

    assert not torch.allclose(sample(0.5), sample(1.0))
    text_only = _tiny_pipeline(data, use_dsg=False)
    out = text_only(prompt="the red circle moves left", num_inference_steps=1, output_type="latent")
    assert out.frames.shape[2] == 4 and out.dsgs == [None]


def test_recipe_runs_every_stage_and_resumes(tmp_path):
    """Stage I -> data -> denoiser (resumed) -> evaluate, at toy sizes, through the command's main()."""
    from vdm.slots.recipe import main

    out = str(tmp_path / "run")
    common = ["--out", out, "--threads", "1"]
    assert main(["autoencoder", *common, "--steps", "3"]) == 0
    assert main(["data", *common, "--size", "24", "--levels", "1", "2"]) == 0
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert meta["videos"] > 0
    # the same videos, each planned DSG aligned to its clip's event times
    assert (
        main(["data", *common, "--size", "24", "--levels", "1", "2", "--data-name", "timed", "--retime", "data"]) == 0
    )
    timed = json.loads((tmp_path / "run" / "timed" / "meta.json").read_text())
    assert timed["videos"] == meta["videos"] and 0 < timed["clip_timed"] <= timed["videos"]
    from vdm.slots.data import SlotData

    assert all(d.num_frames == 16 for d in SlotData.load(tmp_path / "run" / "timed").dsgs)
    small = ["--width", "32", "--depth", "1", "--batch-size", "4"]
    assert main(["denoiser", *common, *small, "--steps", "2", "--no-tune-guidance"]) == 0
    assert main(["denoiser", *common, *small, "--steps", "3", "--tune-prompts", "3"]) == 0  # resumes from step 2
    curve_dir = tmp_path / "run" / "dsg" / "checkpoints"
    assert sorted(p.name for p in curve_dir.glob("step-*"))[-1] == "step-00000003"
    tuned = json.loads((tmp_path / "run" / "dsg" / "sampling.json").read_text())
    index = json.loads((tmp_path / "run" / "dsg" / "pipeline" / "model_index.json").read_text())
    assert index["default_guidance"] == tuned["best"]["guidance"]
    assert index["default_noise_scale"] == tuned["best"]["noise_scale"]
    assert len(tuned["val"]) == 12
    # a later session without the checkpoints continues from the exported fp16 weights
    exported = str(tmp_path / "run" / "dsg" / "pipeline")
    cont = ["--name", "dsg-cont", "--init-from", exported, "--init-step", "3", "--no-tune-guidance"]
    assert main(["denoiser", *common, *small, *cont, "--steps", "4"]) == 0
    assert sorted(p.name for p in (tmp_path / "run" / "dsg-cont" / "checkpoints").glob("step-*")) == ["step-00000004"]
    with pytest.raises(ValueError, match="do not fit this model"):
        wide = ["--width", "64", "--depth", "1", "--batch-size", "4"]
        main(["denoiser", *common, *wide, "--name", "dsg-wide", "--init-from", exported, "--steps", "1"])
    assert main(["tune", *common, "--tune-prompts", "3"]) == 0  # re-tune the exported pipeline
    assert json.loads((tmp_path / "run" / "dsg" / "pipeline" / "model_index.json").read_text())["default_guidance"]
    report = tmp_path / "eval.json"
    assert main(["evaluate", *common, "--num", "2", "--levels", "1", "2", "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["all"]["videos"] == 2.0 and 0.0 <= result["all"]["clean"] <= 1.0


def test_entity_tokens_tell_padding_from_a_dropped_dsg(data):
    from vdm.models.dsg_encoder import DSGConditionEncoder
    from vdm.training.world_source import WorldSource

    enc = DSGConditionEncoder.from_vocab(WorldSource(CFG).vocab(), entity_tokens=True, hidden=16, num_layers=1, heads=2)
    graph = data.dsgs[0]
    n = len(graph.entities)
    tok, mask = enc.entity_tokens([graph, None], 16, n + 1)
    assert tok.shape == (2, 16, n + 1, 16)
    assert mask[0].tolist() == [True] * n + [False] and not mask[1].any()
    assert torch.allclose(tok[0, :, n], enc.no_entity.expand(16, -1))
    assert torch.allclose(tok[1], enc.null_entity.expand(16, n + 1, -1))
    assert not torch.allclose(enc.no_entity, enc.null_entity)
    with pytest.raises(ValueError, match="slots"):
        enc.entity_tokens([graph], 16, n - 1 if n > 1 else 0)


def test_cli_generates_and_evaluates_with_a_slot_pipeline(data, tmp_path, capsys):
    from vdm.cli import main

    pipe = _tiny_pipeline(data)
    pipe.register_to_config(default_guidance=1.5)
    pipe.save_pretrained(tmp_path / "m")
    out = tmp_path / "out"
    args = ["generate", "the red circle moves left", "--model", str(tmp_path / "m"), "--out", str(out)]
    assert main([*args, "--steps", "2", "--interpolate", "1"]) == 0
    assert (out / "video.mp4").stat().st_size > 0 and (out / "strip.png").exists()
    report = tmp_path / "e.json"
    cmd = ["evaluate", "--model", str(tmp_path / "m"), "--num", "4", "--levels", "1", "2", "--steps", "1"]
    assert main([*cmd, "--swap", "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert set(result) >= {"all", "level1", "level2", "swap", "swap_order_drop_multi"}
    # several sampling seeds: mean and std entry by entry, each seed's result kept
    seeds = tmp_path / "seeds.json"
    assert main([*cmd, "--swap", "--seeds", "0", "1", "--json", str(seeds)]) == 0
    many = json.loads(seeds.read_text())
    assert many["seeds"] == [0, 1] and many["per_seed"]["0"] == result
    runs = [many["per_seed"][k]["all"]["trirec"] for k in ("0", "1")]
    assert many["mean"]["all"]["trirec"] == pytest.approx(sum(runs) / 2)
    assert many["std"]["all"]["trirec"] == pytest.approx(abs(runs[0] - runs[1]) / 2**0.5)
    assert "swap_order_drop_multi" in many["std"] and "± " in capsys.readouterr().out
    assert main([*cmd[:3], "--levels", "1", "2", "3", "--num", "2"]) == 2  # fewer prompts than levels
    assert "at least one prompt per level" in capsys.readouterr().err


def test_strict_order_needs_both_events_in_the_gold_order():
    import math

    from dsg import Event, EventSchedule
    from vdm.training.world_eval import strict_order_accuracy

    gold = EventSchedule((Event("a", "jump", None, 0, 2), Event("b", "grow", None, 3, 5)))
    right = EventSchedule((Event("a", "jump", None, 1, 3), Event("b", "grow", None, 6, 8)))
    wrong = EventSchedule((Event("b", "grow", None, 0, 2), Event("a", "jump", None, 4, 6)))
    other = EventSchedule((Event("c", "jump", None, 0, 2), Event("d", "grow", None, 3, 5)))
    assert strict_order_accuracy(right, gold) == 1.0
    assert strict_order_accuracy(wrong, gold) == 0.0
    assert strict_order_accuracy(other, gold) == 0.0  # dsg.event_order would pair these by predicate
    assert strict_order_accuracy(EventSchedule(right.events[:1]), gold) == 0.0
    assert math.isnan(strict_order_accuracy(right, EventSchedule(gold.events[:1])))


def test_dysen_pipeline_loader_returns_the_saved_subclass(data, tmp_path):
    from vdm.pipelines import DysenVDMPipeline

    _tiny_pipeline(data).save_pretrained(tmp_path / "p")
    assert type(DysenVDMPipeline.from_pretrained(tmp_path / "p")) is SlotVDMPipeline


def test_planned_dsgs_align_to_the_clip_event_times():
    import dsg
    from vdm.slots.data import clip_step_starts

    gold = dsg.EventSchedule.from_tuples(
        [("a", "jump", None, (3, 6)), ("b", "grow", None, (3, 7)), ("a", "rotate", None, (9, 13))], time_unit="frame"
    )
    gold_dsg = dsg.schedule_to_dsg(gold)
    plan = dsg.schedule_to_dsg(
        dsg.EventSchedule.from_tuples(
            [("b", "grow", None, (0, 1)), ("a", "jump", None, (0, 1)), ("a", "rotate", None, (1, 2))]
        )
    )
    assert clip_step_starts(plan, gold_dsg) == [3, 9]
    timed = dsg.align(plan, 16, step_starts=clip_step_starts(plan, gold_dsg))
    assert sorted((e.start, e.predicate) for e in timed.schedule.events) == [(0, "grow"), (0, "jump"), (9, "rotate")]
    assert timed.frames[8] == plan.frames[0] and timed.frames[9] == plan.frames[1]
    # a plan that tells other events, or the same ones in another order, keeps the even alignment
    other = dsg.schedule_to_dsg(
        dsg.EventSchedule.from_tuples([("a", "rotate", None, (0, 1)), ("a", "jump", None, (1, 2))])
    )
    assert clip_step_starts(other, gold_dsg) is None
    assert clip_step_starts(plan, plan) is None  # a gold in steps, not frames


def test_learning_rate_warms_up_then_decays_to_zero():
    from vdm.slots.training import SlotTrainConfig, lr_factor

    cfg = SlotTrainConfig(warmup=10, max_steps=100)
    assert lr_factor(cfg, 0) == pytest.approx(0.1) and lr_factor(cfg, 50) == 1.0 and lr_factor(cfg, 99) == 1.0
    cfg = SlotTrainConfig(warmup=10, max_steps=100, decay_from=60)
    assert lr_factor(cfg, 59) == 1.0 and lr_factor(cfg, 80) == pytest.approx(0.5) and lr_factor(cfg, 100) == 0.0
    # a run started from exported weights at step 40 warms up again, then follows the same decay
    cfg = SlotTrainConfig(warmup=10, max_steps=100, decay_from=60, init_from="w", init_step=40)
    assert lr_factor(cfg, 40) == pytest.approx(0.1) and lr_factor(cfg, 55) == 1.0
    assert lr_factor(cfg, 80) == pytest.approx(0.5)
