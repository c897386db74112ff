"""diffusers' pipeline conventions, checked on the real classes (issue 16).

The checks of diffusers' ``PipelineTesterMixin`` / ``PipelineLatentTesterMixin`` / ``PipelineFromPipeTesterMixin``
(``tests/pipelines/test_pipelines_common.py`` in diffusers' repository) that fit a text-to-video pipeline,
applied to :class:`~vdm.pipelines.DysenVDMPipeline` (Latte denoiser, ``AutoencoderKL``, DDIM) and to
:class:`~vdm.slots.SlotVDMPipeline` (slot latents, flow matching) with tiny random components, plus the DSG
counterparts of the text arguments. Parametrised tests run on both classes (``kind``).

Checks of the mixins that do not apply, and why:

* ``test_xformers_attention_forwardGenerator_pass``: xformers needs CUDA and a package this project does not
  install. Attention slicing (``test_attention_slicing_forward_pass``) and the xformers switch itself are
  checked at the end, in the form that matters here: diffusers replaces every attention processor, which would
  drop the DSG fusion processors (eq. 6) and their weights; the pipelines keep them (the slot denoiser has no
  diffusers attention, and says so).
* ``test_vae_slicing`` / ``test_vae_tiling`` / ``test_freeu`` / ``test_fused_qkv_projections`` and
  ``test_StableDiffusionMixin_component``: ``StableDiffusionMixin`` features of a UNet + image VAE; neither
  pipeline is one (the slot "VAE" is a renderer of entity tokens).
* ``test_karras_schedulers_shape``: run for the DDIM-trained classic pipeline on a few of them; the slot model
  predicts flow-matching velocities, which the Karras (noise-prediction) schedulers do not take.
* ``test_to_device``, ``test_float16_inference``, ``test_save_load_float16`` and the accelerator forms of the
  offload tests need CUDA: they run when it is there (``cuda`` below); on a CPU the same checks run in
  bfloat16 and with accelerate's hooks on ``device="cpu"`` (diffusers allows it when the device is given).
* ``test_from_pipe_consistent_config`` converts to and from Stable Diffusion checkpoints on the Hub: no
  network here, and no Stable Diffusion components fit these pipelines; ``from_pipe`` between the package's
  own classes and with overrides is checked instead.
* ``test_num_images_per_prompt``: videos, so ``num_videos_per_prompt`` (diffusers' text-to-video name).
* ``test_save_load_local``'s log assertion (diffusers logs every component it loads) checks diffusers'
  logging, not this pipeline; outputs and files are compared instead.
* push-to-hub, IP-Adapter, PAG and image-input tests: no network, no image inputs.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from vdm_fixtures import F, make_graph

from dsg import DSGVocab
from vdm.models import PRESETS, DSGVideoDenoiser
from vdm.models.dsg_encoder import DSGConditionEncoder
from vdm.models.vae import build_vae
from vdm.pipelines import DysenVDMPipeline, PipelineInputError, UnsafeWeightsError, check_weight_files
from vdm.slots import SlotAutoencoder, SlotDenoiser, SlotVDMPipeline
from vdm.text import default_text_encoder_path

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (fp16 and device moves)")
KINDS = ["classic", "slot"]
TEXT_DIM = 32
GRAPHS = [make_graph(), make_graph("grow", "shrink")]
PROMPT = "the red circle moves left, then the blue square jumps"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(default_text_encoder_path()), local_files_only=True)


def _text_encoder(tokenizer: Any) -> Any:
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_DIM,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    return BertModel(cfg).eval()


def components(kind: str, tokenizer: Any, text_only: bool = False) -> dict[str, Any]:
    """Tiny random components (seeded: equal for equal arguments), a registered text encoder included."""
    torch.manual_seed(0)
    vocab = DSGVocab.build(GRAPHS)
    enc = None
    if not text_only:
        enc = DSGConditionEncoder.from_vocab(
            vocab, hidden=32, num_layers=1, heads=4, dropout=0.0, entity_tokens=kind == "slot"
        )
    dsg_dim = None if text_only else 32
    if kind == "classic":
        cfg = dict(PRESETS["latte-tiny"][1], num_layers=1, video_length=F, caption_channels=TEXT_DIM)
        den: Any = DSGVideoDenoiser("latte", cfg, dsg_dim=dsg_dim, gate_init=1.0)
        vae: Any = build_vae("vae-tiny", block_out_channels=(16, 16, 16))
        sched: Any = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    else:
        den = SlotDenoiser(num_frames=F, max_slots=3, width=32, depth=1, heads=2, dsg_dim=dsg_dim, text_dim=TEXT_DIM)
        _wake(den)
        vae = SlotAutoencoder(channels=8)
        sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    for m in (den, vae, enc):
        if m is not None:
            m.eval()
    return {
        "denoiser": den,
        "vae": vae,
        "scheduler": sched,
        "dsg_encoder": enc,
        "text_encoder": _text_encoder(tokenizer),
        "tokenizer": tokenizer,
    }


def _wake(model: torch.nn.Module) -> None:
    """Give the zero-initialised output layers of a fresh slot denoiser random weights (a zero output would
    ignore every condition)."""
    with torch.no_grad():
        for param in model.parameters():
            if not param.any():
                param.normal_(std=0.2)


def pipeline_class(kind: str) -> type[DysenVDMPipeline]:
    return DysenVDMPipeline if kind == "classic" else SlotVDMPipeline


def make(kind: str, tokenizer: Any, text_only: bool = False, **config: Any) -> DysenVDMPipeline:
    pipe = pipeline_class(kind)(**components(kind, tokenizer, text_only), num_frames=F, **config)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def inputs(**kw: Any) -> dict[str, Any]:
    """The dummy inputs: one DSG (no planner), two steps, guidance on, latents out (the random slot decoder
    draws nearly nothing, so decoded slot frames would hide differences; tests of decoding ask for pixels)."""
    out: dict[str, Any] = {
        "dsg": GRAPHS[0],
        "num_inference_steps": 2,
        "guidance_scale": 3.0,
        "generator": gen(0),
        "output_type": "latent",
    }
    out.update(kw)
    return out


def frames(pipe: DysenVDMPipeline, **kw: Any) -> torch.Tensor:
    return pipe(**inputs(**kw))[0]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def pipe(kind: str, tokenizer: Any) -> DysenVDMPipeline:
    return make(kind, tokenizer)


def _max_diff(a: Any, b: Any) -> float:
    return float(np.abs(np.asarray(torch.as_tensor(a).float()) - np.asarray(torch.as_tensor(b).float())).max())


# -- signature and outputs ------------------------------------------------------------------------------------
TEXT_TO_VIDEO_PARAMS = {
    "prompt",
    "negative_prompt",
    "prompt_embeds",
    "negative_prompt_embeds",
    "height",
    "width",
    "num_frames",
    "guidance_scale",
    "cross_attention_kwargs",
    # the DSG counterparts
    "dsg",
    "negative_dsg",
    "dsg_embeds",
    "negative_dsg_embeds",
}
REQUIRED_OPTIONAL = {
    "num_inference_steps",
    "num_videos_per_prompt",
    "generator",
    "latents",
    "output_type",
    "return_dict",
    "callback_on_step_end",
    "callback_on_step_end_tensor_inputs",
}


@pytest.mark.parametrize("cls", [DysenVDMPipeline, SlotVDMPipeline])
def test_pipeline_call_signature(cls: type) -> None:
    params = inspect.signature(cls.__call__).parameters
    assert set(params) >= TEXT_TO_VIDEO_PARAMS
    optional = {k for k, v in params.items() if v.default is not inspect.Parameter.empty}
    assert optional >= REQUIRED_OPTIONAL
    for name in ("guidance_scale", "do_classifier_free_guidance", "num_timesteps", "cross_attention_kwargs"):
        assert isinstance(getattr(cls, name), property)
    assert set(cls._callback_tensor_inputs) >= {"latents", "prompt_embeds", "dsg_embeds"}
    assert cls.model_cpu_offload_seq


def test_one_implementation_of_the_call() -> None:
    assert SlotVDMPipeline.__call__ is DysenVDMPipeline.__call__
    assert SlotVDMPipeline.denoise is DysenVDMPipeline.denoise


def test_components_function(kind: str, tokenizer: Any) -> None:
    init = components(kind, tokenizer)
    pipe = pipeline_class(kind)(**init)
    assert set(pipe.components) == set(init)
    assert all(pipe.components[k] is v for k, v in init.items())


def test_dict_tuple_outputs_equivalent(pipe: DysenVDMPipeline) -> None:
    as_dict = pipe(**inputs())
    as_tuple = pipe(**inputs(), return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    assert _max_diff(as_dict.frames, as_tuple[0]) < 1e-4 and as_dict.dsgs == as_tuple[1]


def test_pt_np_pil_outputs_equivalent(pipe: DysenVDMPipeline) -> None:
    pt = frames(pipe, output_type="pt")
    arr = frames(pipe, output_type="np")
    pil = frames(pipe, output_type="pil")
    assert _max_diff(pt.permute(0, 1, 3, 4, 2), arr) < 1e-4
    assert np.abs(np.asarray(pil[0][0], dtype=np.float32) - (arr[0, 0] * 255).round()).max() < 2.0


def test_latents_input_reproduces_the_sampled_noise(kind: str, pipe: DysenVDMPipeline) -> None:
    out = pipe(**inputs(output_type="latent"))
    lat = out.frames
    shape = lat.shape if kind == "classic" else (1, F, lat.shape[2], pipe.vae.latent_dim)
    noise = torch.randn(shape, generator=gen(0)) * pipe.config.get("default_noise_scale", 1.0)
    again = pipe(**inputs(output_type="latent", latents=noise, generator=None)).frames
    assert _max_diff(lat, again) < 1e-5


# -- batches --------------------------------------------------------------------------------------------------
def test_inference_batch_consistent(pipe: DysenVDMPipeline) -> None:
    prompts = [PROMPT, 100 * "very long "]  # unequal lengths; the long one is truncated to max_text_length
    out = pipe(**inputs(dsg=GRAPHS, prompt=prompts, generator=[gen(0), gen(1)]))
    assert len(out[0]) == 2 and len(out.dsgs) == 2


def test_inference_batch_single_identical(pipe: DysenVDMPipeline) -> None:
    single = frames(pipe)
    batch = frames(pipe, dsg=[GRAPHS[0], GRAPHS[1], GRAPHS[0]], generator=[gen(0), gen(1), gen(2)])
    assert batch.shape[0] == 3
    assert _max_diff(batch[0], single[0]) < 1e-4


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("per_prompt", [1, 2])
def test_num_videos_per_prompt(pipe: DysenVDMPipeline, batch: int, per_prompt: int) -> None:
    out = pipe(**inputs(dsg=GRAPHS[:batch], num_videos_per_prompt=per_prompt, generator=None))
    assert out.frames.shape[0] == batch * per_prompt
    assert out.dsgs == [g for g in GRAPHS[:batch] for _ in range(per_prompt)]
    if per_prompt == 2:
        assert not torch.allclose(out.frames[0], out.frames[1])  # same conditions, other noise


def test_cfg(pipe: DysenVDMPipeline) -> None:
    no_cfg = frames(pipe, guidance_scale=1.0)
    cfg = frames(pipe, guidance_scale=7.5)
    assert cfg.shape == no_cfg.shape and not torch.allclose(cfg, no_cfg)


# -- text and DSG conditioning ---------------------------------------------------------------------------------
def test_encode_prompt_works_in_isolation(pipe: DysenVDMPipeline) -> None:
    """Precomputed text states and DSG tokens give the video the raw inputs give."""
    ref = frames(pipe, prompt=PROMPT, negative_prompt="static", negative_dsg=GRAPHS[1])
    text = pipe.encode_prompt(PROMPT, negative_prompt="static")
    tokens = pipe.encode_dsg(GRAPHS[0], F, negative_dsg=GRAPHS[1])
    pre = frames(
        pipe,
        dsg=None,
        prompt_embeds=text[0],
        prompt_attention_mask=text[1],
        negative_prompt_embeds=text[2],
        negative_prompt_attention_mask=text[3],
        dsg_embeds=tokens[0],
        dsg_attention_mask=tokens[1],
        negative_dsg_embeds=tokens[2],
        negative_dsg_attention_mask=tokens[3],
    )
    assert torch.equal(ref, pre)
    out = pipe(**inputs(dsg=None, prompt=PROMPT, dsg_embeds=tokens[0], dsg_attention_mask=tokens[1]))
    assert out.dsgs == [None]  # precomputed features: no DSG object to report


def test_negative_prompt_and_negative_dsg_steer_guidance(pipe: DysenVDMPipeline) -> None:
    plain = frames(pipe)
    assert torch.equal(plain, frames(pipe, negative_prompt="", negative_dsg=[None]))  # the defaults, spelled out
    assert not torch.allclose(plain, frames(pipe, negative_prompt="a green triangle grows"))
    assert not torch.allclose(plain, frames(pipe, negative_dsg=GRAPHS[1]))
    # without guidance there is no unconditional branch: negatives change nothing
    off = frames(pipe, guidance_scale=1.0)
    assert torch.equal(off, frames(pipe, guidance_scale=1.0, negative_prompt="x", negative_dsg=GRAPHS[1]))


def test_num_videos_per_prompt_repeats_precomputed_conditions(pipe: DysenVDMPipeline) -> None:
    text = pipe.encode_prompt(PROMPT, num_videos_per_prompt=2)
    assert text[0].shape[0] == 2 and torch.equal(text[0][0], text[0][1]) and text[2] is not None
    tokens = pipe.encode_dsg(GRAPHS, F, num_videos_per_prompt=3, do_classifier_free_guidance=False)
    assert tokens[0].shape[0] == 6 and tokens[2] is None


def test_input_errors(kind: str, pipe: DysenVDMPipeline, tokenizer: Any) -> None:
    text = pipe.encode_prompt(PROMPT)
    tokens = pipe.encode_dsg(GRAPHS[0], F)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"prompt": PROMPT, "prompt_embeds": text[0]}, "not both"),
        ({"dsg_embeds": tokens[0]}, "not both"),
        ({"dsg": None, "dsg_embeds": tokens[0]}, "carry no text"),
        ({"dsg": None, "prompt_embeds": text[0]}, "plan a DSG"),
        ({"negative_prompt": ["a", "b"]}, "negative_prompt"),
        ({"negative_dsg": [GRAPHS[1], GRAPHS[1]]}, "negative_dsg"),
        ({"negative_prompt_embeds": text[0][:, :5]}, "negative_prompt_embeds"),
        ({"dsg": None, "prompt": PROMPT, "dsg_embeds": tokens[0][:, :2]}, "dsg_embeds"),
        ({"prompt_embeds": text[0], "prompt_attention_mask": text[1][:, :3], "dsg": GRAPHS[0]}, "attention_mask"),
        ({"dsg": GRAPHS, "prompt": [PROMPT]}, "one DSG per prompt"),
        ({"dsg": None, "prompt": [PROMPT, PROMPT], "dsg_embeds": tokens[0]}, "batch sizes differ"),
        ({"generator": [gen(0), gen(1)]}, "generators"),
        ({"num_videos_per_prompt": 0}, "num_videos_per_prompt"),
        ({"noise_scale": float("nan")}, "noise_scale"),
        ({"callback_on_step_end_tensor_inputs": ["noise"]}, "callback_on_step_end_tensor_inputs"),
        ({"cross_attention_kwargs": {"scale": "big"}}, "scale"),
        ({"cross_attention_kwargs": "scale"}, "cross_attention_kwargs"),
    ]
    if kind == "slot":  # square frames; per-entity tokens cannot be padded to line up
        cases.append(({"height": 32, "width": 16}, "square"))
        cases.append(({"dsg_embeds": None, "negative_dsg_embeds": tokens[0][:, :, :1]}, "slots of the DSG tokens"))
    for kw, match in cases:
        with pytest.raises(PipelineInputError, match=match):
            pipe(**inputs(**kw))
    text_only = make(kind, tokenizer, text_only=True)
    with pytest.raises(PipelineInputError, match="text-only"):
        text_only(**inputs(dsg=None, prompt=PROMPT, dsg_embeds=tokens[0]))


def test_text_only_models_take_text_and_ignore_dsgs(kind: str, tokenizer: Any) -> None:
    pipe = make(kind, tokenizer, text_only=True)
    out = pipe(**inputs(dsg=None, prompt=PROMPT, negative_prompt="nothing moves"))
    assert out.dsgs == [None]
    embeds = pipe.encode_prompt(PROMPT)
    masks = {"prompt_attention_mask": embeds[1], "negative_prompt_attention_mask": embeds[3]}
    again = pipe(**inputs(dsg=None, prompt_embeds=embeds[0], negative_prompt_embeds=embeds[2], **masks))
    assert torch.equal(again.frames, pipe(**inputs(dsg=None, prompt=PROMPT)).frames)


# -- callbacks ------------------------------------------------------------------------------------------------
def test_callback_inputs(kind: str, pipe: DysenVDMPipeline) -> None:
    """diffusers' check: only allowed tensors are passed, all of them when asked, and edits take effect."""

    def subset(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        assert set(kw) <= set(p._callback_tensor_inputs)
        return kw

    def everything(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        assert set(kw) == set(p._callback_tensor_inputs)
        return kw

    pipe(**inputs(output_type="latent", callback_on_step_end=subset, callback_on_step_end_tensor_inputs=["latents"]))
    all_inputs = pipe._callback_tensor_inputs
    pipe(**inputs(output_type="latent", callback_on_step_end=everything, callback_on_step_end_tensor_inputs=all_inputs))

    def zero_at_the_end(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        if i == p.num_timesteps - 1:
            kw["latents"] = torch.zeros_like(kw["latents"])
        return kw

    out = pipe(**inputs(output_type="latent", callback_on_step_end=zero_at_the_end)).frames
    if kind == "classic":
        assert out.abs().sum() == 0
    else:  # the slot pipeline's "latent" output is the denormalised slot latent: zeros -> the latent mean
        assert torch.allclose(out, pipe.vae.denormalize(torch.zeros_like(out)))


def test_callback_cfg(pipe: DysenVDMPipeline) -> None:
    def increase_guidance(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        p._guidance_scale += 1.0
        return kw

    pipe(**inputs(guidance_scale=2.0, callback_on_step_end=increase_guidance))
    assert pipe.guidance_scale == 2.0 + pipe.num_timesteps and pipe.num_timesteps == 2
    assert pipe.do_classifier_free_guidance


def test_callback_switches_guidance_off_and_edits_conditions(pipe: DysenVDMPipeline) -> None:
    def guidance_off(p: Any, i: int, t: Any, kw: dict[str, Any]) -> None:
        p._guidance_scale = 1.0

    off_after_one = frames(pipe, num_inference_steps=3, callback_on_step_end=guidance_off)
    assert not torch.allclose(off_after_one, frames(pipe, num_inference_steps=3))

    def swap_text(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        return {"prompt_embeds": kw["negative_prompt_embeds"]}

    names = ["prompt_embeds", "negative_prompt_embeds"]
    swapped = frames(
        pipe, num_inference_steps=3, callback_on_step_end=swap_text, callback_on_step_end_tensor_inputs=names
    )
    assert not torch.allclose(swapped, frames(pipe, num_inference_steps=3))

    def bad_shape(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        return {"prompt_embeds": kw["prompt_embeds"][:, :3]}

    with pytest.raises(PipelineInputError, match="prompt_embeds"):
        frames(pipe, callback_on_step_end=bad_shape, callback_on_step_end_tensor_inputs=["prompt_embeds"])
    with pytest.raises(PipelineInputError, match="noise"):
        frames(pipe, callback_on_step_end=lambda p, i, t, kw: {"noise": 1})

    def guidance_on(p: Any, i: int, t: Any, kw: dict[str, Any]) -> None:
        p._guidance_scale = 3.0

    with pytest.raises(PipelineInputError, match="guidance was switched on"):
        frames(pipe, guidance_scale=1.0, callback_on_step_end=guidance_on)


def test_interrupt_and_pipeline_callback_objects(pipe: DysenVDMPipeline) -> None:
    from diffusers.callbacks import PipelineCallback

    seen: list[int] = []

    def stop(p: Any, i: int, t: Any, kw: dict[str, Any]) -> None:
        seen.append(i)
        p._interrupt = True

    frames(pipe, num_inference_steps=4, callback_on_step_end=stop)
    assert seen == [0] and pipe.interrupt

    class Zero(PipelineCallback):
        tensor_inputs = ["latents"]  # noqa: RUF012 (diffusers API)

        def callback_fn(self, pipeline: Any, step_index: int, timestep: Any, callback_kwargs: dict[str, Any]) -> Any:
            callback_kwargs["latents"] = torch.zeros_like(callback_kwargs["latents"])
            return callback_kwargs

    # the object's tensor_inputs replace the call's (here: an invalid name that would otherwise be refused)
    zeroed = frames(
        pipe,
        callback_on_step_end=Zero(cutoff_step_ratio=None, cutoff_step_index=0),
        callback_on_step_end_tensor_inputs=["x"],
    )
    plain = frames(pipe, callback_on_step_end=lambda p, i, t, kw: {"latents": 0 * kw["latents"]})
    assert torch.equal(zeroed, plain)


# -- cross_attention_kwargs -----------------------------------------------------------------------------------
def test_cross_attention_kwargs_scale_weighs_lora(kind: str, pipe: DysenVDMPipeline) -> None:
    peft = pytest.importorskip("peft")
    plain = frames(pipe)
    target = ["proj_in"] if kind == "slot" else ["proj_out"]
    config = peft.LoraConfig(r=2, lora_alpha=2, target_modules=target, init_lora_weights=False)
    peft.inject_adapter_in_model(config, pipe.denoiser)
    with_lora = frames(pipe)
    assert not torch.allclose(with_lora, plain)
    assert torch.allclose(frames(pipe, cross_attention_kwargs={"scale": 0.0}), plain, atol=1e-6)
    assert pipe.cross_attention_kwargs == {"scale": 0.0}
    assert torch.allclose(frames(pipe), with_lora, atol=1e-6)  # the scale lasts one call
    half = frames(pipe, cross_attention_kwargs={"scale": 0.5})
    assert not torch.allclose(half, with_lora) and not torch.allclose(half, plain)


def test_cross_attention_kwargs_reach_the_processors_of_a_unet3d(tokenizer: Any) -> None:
    parts = components("classic", tokenizer)
    cfg = dict(PRESETS["unet3d-tiny"][1], cross_attention_dim=TEXT_DIM)
    parts["denoiser"] = DSGVideoDenoiser("unet3d", cfg, dsg_dim=32, gate_init=1.0).eval()
    pipe = DysenVDMPipeline(**parts, num_frames=F)
    pipe.set_progress_bar_config(disable=True)
    plain = frames(pipe, guidance_scale=1.0)
    # the DSG fusion processors (eq. 6) take the DSG tokens of every frame straight from the kwargs
    states, mask = torch.zeros(F, 1, 32), torch.zeros(F, 1, dtype=torch.bool)
    null = frames(pipe, guidance_scale=1.0, cross_attention_kwargs={"dsg_states": states, "dsg_mask": mask})
    assert not torch.allclose(plain, null)
    # ... the same as giving those (all-masked) tokens as dsg_embeds, which the denoiser hands them the other way
    zeros = {"dsg_embeds": states.view(1, F, 1, 32), "dsg_attention_mask": mask.view(1, F, 1)}
    assert torch.allclose(null, frames(pipe, guidance_scale=1.0, dsg=None, prompt=GRAPHS[0].text, **zeros), atol=1e-6)


def test_cross_attention_kwargs_without_processors_are_refused(kind: str, pipe: DysenVDMPipeline) -> None:
    from vdm.fusion import DSGFusionError

    error = PipelineInputError if kind == "slot" else DSGFusionError
    with pytest.raises(error, match="cross_attention_kwargs"):
        frames(pipe, cross_attention_kwargs={"dsg_states": None})


# -- save / load ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
def test_save_load_local(kind: str, pipe: DysenVDMPipeline, tmp_path: Path, safe: bool) -> None:
    ref = [frames(pipe, output_type=t) for t in ("pt", "latent")]
    pipe.save_pretrained(tmp_path, safe_serialization=safe)
    suffixes = {p.suffix for p in tmp_path.rglob("*") if p.is_file() and "diffusion_pytorch_model" in p.name}
    assert suffixes == ({".safetensors"} if safe else {".bin"})
    assert len(check_weight_files(tmp_path)) == (0 if safe else 3)  # denoiser, vae, dsg_encoder
    loaded = DysenVDMPipeline.from_pretrained(tmp_path)
    assert type(loaded) is pipeline_class(kind)
    assert set(loaded.components) == set(pipe.components)
    loaded.set_progress_bar_config(disable=True)
    assert all(_max_diff(frames(loaded, output_type=t), r) < 5e-4 for t, r in zip(("pt", "latent"), ref))


class _Payload:
    """Unpickling this runs code: it writes the marker file (what a hostile weight file would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


def test_pickled_weights_are_read_as_data_only(pipe: DysenVDMPipeline, tmp_path: Path) -> None:
    folder, marker = tmp_path / "p", tmp_path / "pwned"
    pipe.save_pretrained(folder, safe_serialization=False)
    weights = next((folder / "denoiser").glob("*.bin"))
    state = torch.load(weights, weights_only=True)
    state["payload"] = _Payload(marker)
    torch.save(state, weights)
    with pytest.raises(UnsafeWeightsError, match="not plain tensor data") as err:
        DysenVDMPipeline.from_pretrained(folder)
    assert err.value.path == weights and isinstance(err.value, OSError)
    assert not marker.exists()  # refused without running it
    with pytest.raises(pickle.UnpicklingError):  # PyTorch's restricted reader, the one diffusers uses too
        torch.load(weights, weights_only=True)
    assert not marker.exists()


def test_save_load_optional_components(kind: str, tokenizer: Any, tmp_path: Path) -> None:
    """Without a registered text encoder the built-in default is used and not saved."""
    parts = components(kind, tokenizer)
    parts.update(text_encoder=None, tokenizer=None)
    if kind == "classic":
        parts["denoiser"] = DSGVideoDenoiser(
            "latte", dict(PRESETS["latte-tiny"][1], num_layers=1, video_length=F), dsg_dim=32, gate_init=1.0
        ).eval()
    else:
        parts["denoiser"] = SlotDenoiser(num_frames=F, max_slots=3, width=32, depth=1, heads=2, dsg_dim=32).eval()
        _wake(parts["denoiser"])
    pipe = pipeline_class(kind)(**parts, num_frames=F)
    pipe.set_progress_bar_config(disable=True)
    ref = frames(pipe)
    pipe.save_pretrained(tmp_path, safe_serialization=False)
    loaded = pipeline_class(kind).from_pretrained(tmp_path)
    assert loaded.text_encoder is None and loaded.tokenizer is None
    assert not (tmp_path / "text_encoder").exists()
    loaded.set_progress_bar_config(disable=True)
    assert _max_diff(frames(loaded), ref) < 1e-4


# -- dtypes, devices, offloading ------------------------------------------------------------------------------
def _module_dtypes(pipe: DysenVDMPipeline) -> dict[str, torch.dtype]:
    return {k: v.dtype for k, v in pipe.components.items() if isinstance(v, torch.nn.Module)}


def test_to_dtype(pipe: DysenVDMPipeline) -> None:
    assert set(_module_dtypes(pipe).values()) == {torch.float32}
    pipe.to(dtype=torch.bfloat16)
    assert set(_module_dtypes(pipe).values()) == {torch.bfloat16}


def test_bfloat16_inference_on_cpu(kind: str, tokenizer: Any) -> None:
    """diffusers' fp16 check, in bf16 (what a CPU runs): end to end, close to float32."""
    ref = frames(make(kind, tokenizer), output_type="np")
    half = make(kind, tokenizer).to(torch.bfloat16)
    out = frames(half, output_type="np")
    assert np.isfinite(out).all() and out.dtype == np.float32
    assert np.abs(out - ref).mean() < 5e-2


def test_save_load_with_torch_dtype(kind: str, pipe: DysenVDMPipeline, tmp_path: Path) -> None:
    ref = frames(pipe, output_type="np")
    pipe.save_pretrained(tmp_path)
    for key in ("torch_dtype", "dtype"):
        loaded = pipeline_class(kind).from_pretrained(tmp_path, **{key: torch.bfloat16})
        assert set(_module_dtypes(loaded).values()) == {torch.bfloat16}
        loaded.set_progress_bar_config(disable=True)
        assert np.abs(frames(loaded, output_type="np") - ref).mean() < 5e-2
    mixed = pipeline_class(kind).from_pretrained(
        tmp_path, torch_dtype={"denoiser": torch.bfloat16, "default": torch.float32}
    )
    assert mixed.denoiser.dtype == torch.bfloat16 and mixed.vae.dtype == torch.float32
    mixed.set_progress_bar_config(disable=True)
    assert np.isfinite(frames(mixed, output_type="np")).all()


@cuda
def test_float16_inference_and_device_moves(kind: str, tokenizer: Any) -> None:
    pipe = make(kind, tokenizer)
    ref = frames(pipe, output_type="np")
    pipe.to("cuda")
    assert {v.device.type for v in pipe.components.values() if isinstance(v, torch.nn.Module)} == {"cuda"}
    assert _max_diff(frames(pipe, output_type="np"), ref) < 1e-3
    pipe.to(torch.float16)
    out = frames(pipe, output_type="np")
    assert np.isfinite(out).all() and np.abs(out - ref).mean() < 5e-2


def _offloaded(pipe: DysenVDMPipeline) -> dict[str, torch.nn.Module]:
    return {
        k: v
        for k, v in pipe.components.items()
        if isinstance(v, torch.nn.Module) and k not in pipe._exclude_from_cpu_offload
    }


def test_model_cpu_offload_forward_pass(pipe: DysenVDMPipeline) -> None:
    import accelerate

    ref = frames(pipe, output_type="pt")
    for _ in range(2):  # diffusers' test_cpu_offload_forward_pass_twice
        pipe.enable_model_cpu_offload(device="cpu")
        assert pipe._execution_device.type == "cpu"
        assert _max_diff(frames(pipe, output_type="pt"), ref) < 2e-4
    modules = _offloaded(pipe)
    assert all(isinstance(getattr(v, "_hf_hook", None), accelerate.hooks.CpuOffload) for v in modules.values())
    assert all(v.device.type == "cpu" for v in modules.values())


def _offload_to_cpu0_runs() -> bool:
    """Whether accelerate's sequential offload runs a stock diffusers model on ``cpu:0`` (what diffusers'
    ``enable_sequential_cpu_offload(device="cpu")`` asks for). accelerate 1.15 cannot: moving the weights back
    after ``forward`` raises ``TypeError`` in ``set_module_tensor_to_device`` (on ``cpu`` it works)."""
    import accelerate
    from diffusers import UNet2DModel

    blocks = {"down_block_types": ("DownBlock2D",) * 2, "up_block_types": ("UpBlock2D",) * 2}
    unet = UNet2DModel(sample_size=8, block_out_channels=(8, 8), norm_num_groups=4, layers_per_block=1, **blocks)
    accelerate.cpu_offload(unet.eval(), torch.device("cpu:0"))
    try:
        with torch.no_grad():
            unet(torch.zeros(1, 3, 8, 8), 1)
    except TypeError:
        return False
    return True


def test_sequential_cpu_offload_forward_pass(kind: str, tokenizer: Any) -> None:
    import accelerate

    pipe = make(kind, tokenizer)
    ref = frames(pipe, output_type="pt"), frames(pipe)
    pipe.enable_sequential_cpu_offload(device="cpu")
    modules = _offloaded(pipe)
    assert all(v.device.type == "meta" for v in modules.values()), {k: v.device for k, v in modules.items()}

    def align(hook: Any) -> bool:
        if isinstance(hook, accelerate.hooks.SequentialHook):
            return all(isinstance(h, accelerate.hooks.AlignDevicesHook) for h in hook.hooks)
        return isinstance(hook, accelerate.hooks.AlignDevicesHook)

    assert all(align(getattr(v, "_hf_hook", None)) for v in modules.values())
    if not _offload_to_cpu0_runs():
        # the same hooks as enable_sequential_cpu_offload puts on, for "cpu" instead of accelerate's broken "cpu:0"
        pipe = make(kind, tokenizer)
        for name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module) and name not in pipe._exclude_from_cpu_offload:
                accelerate.cpu_offload(module, torch.device("cpu"), offload_buffers=len(module._parameters) > 0)
        assert all(v.device.type == "meta" for v in _offloaded(pipe).values())
    assert _max_diff(frames(pipe, output_type="pt"), ref[0]) < 1e-4 and _max_diff(frames(pipe), ref[1]) < 1e-4


@cuda
def test_offloading_to_cuda(pipe: DysenVDMPipeline) -> None:
    ref = frames(pipe)
    pipe.enable_model_cpu_offload()
    assert pipe._execution_device.type == "cuda" and _max_diff(frames(pipe), ref) < 1e-3
    pipe.enable_sequential_cpu_offload()
    assert _max_diff(frames(pipe), ref) < 1e-3


# -- from_pipe ------------------------------------------------------------------------------------------------
def test_from_pipe_shares_components(kind: str, pipe: DysenVDMPipeline) -> None:
    ref = frames(pipe)
    for cls in (DysenVDMPipeline, pipeline_class(kind)):
        new = cls.from_pipe(pipe)
        assert type(new) is pipeline_class(kind)  # a registered subclass stays itself, as in from_pretrained
        assert all(new.components[k] is v for k, v in pipe.components.items())
        assert {k: v for k, v in new.config.items() if not k.startswith("_")} == {
            k: v for k, v in pipe.config.items() if not k.startswith("_")
        }
        new.set_progress_bar_config(disable=True)
        assert torch.equal(frames(new), ref)
    other = DysenVDMPipeline.from_pipe(pipe, default_guidance=1.0)
    other.set_progress_bar_config(disable=True)
    assert other.config.default_guidance == 1.0
    assert torch.equal(frames(other, guidance_scale=None), frames(pipe, guidance_scale=1.0))
    assert torch.equal(frames(pipe), ref)  # from_pipe leaves the original as it was


def test_from_pipe_on_the_base_class_is_diffusers_own_limit(pipe: DysenVDMPipeline) -> None:
    """``DiffusionPipeline.from_pipe`` builds a bare ``DiffusionPipeline``: it refuses a stock diffusers pipeline
    the same way, so the form that works is ``<PipelineClass>.from_pipe``."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    blocks = {"down_block_types": ("DownBlock2D",) * 2, "up_block_types": ("UpBlock2D",) * 2}
    unet = UNet2DModel(sample_size=8, block_out_channels=(8, 8), norm_num_groups=4, layers_per_block=1, **blocks)
    stock = DDPMPipeline(unet=unet, scheduler=DDPMScheduler())
    for p in (stock, pipe):
        with pytest.raises(ValueError, match="expected"):
            DiffusionPipeline.from_pipe(p)


def test_from_pipe_shares_the_planner_and_default_text_encoder(tokenizer: Any) -> None:
    parts = components("classic", tokenizer)
    pipe = DysenVDMPipeline(**parts, num_frames=F)
    planner, text = pipe.planner, pipe.text
    new = DysenVDMPipeline.from_pipe(pipe)
    assert new.planner is planner and new.text is text
    swapped = DysenVDMPipeline.from_pipe(pipe, text_encoder=_text_encoder(tokenizer))
    assert swapped.text is not pipe.text and swapped.text.model is swapped.text_encoder


# -- progress bar, schedulers ---------------------------------------------------------------------------------
def test_progress_bar(tokenizer: Any) -> None:
    pipe = pipeline_class("slot")(**components("slot", tokenizer), num_frames=F)
    with io.StringIO() as stderr, contextlib.redirect_stderr(stderr):
        pipe(**inputs())
        assert "2/2" in stderr.getvalue()
    pipe.set_progress_bar_config(disable=True)
    with io.StringIO() as stderr, contextlib.redirect_stderr(stderr):
        pipe(**inputs())
        assert stderr.getvalue() == ""


def test_schedulers_shape(tokenizer: Any) -> None:
    from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler

    pipe = make("classic", tokenizer)
    shapes = {tuple(frames(pipe).shape)}
    for cls in (DPMSolverMultistepScheduler, EulerDiscreteScheduler):
        pipe.scheduler = cls.from_config(pipe.scheduler.config)
        out = frames(pipe)
        assert torch.isfinite(out).all()
        shapes.add(tuple(out.shape))
    assert len(shapes) == 1


# -- memory options: attention slicing and the xformers switch keep the DSG branch -----------------------------
@pytest.mark.parametrize("backbone", ["latte", "unet3d"])
def test_attention_slicing_keeps_the_dsg_fusion(backbone: str, tokenizer: Any) -> None:
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0, SlicedAttnProcessor

    from vdm.fusion import DSGFusionAttnProcessor

    parts = components("classic", tokenizer)
    if backbone == "unet3d":
        cfg = dict(PRESETS["unet3d-tiny"][1], cross_attention_dim=TEXT_DIM)
        parts["denoiser"] = DSGVideoDenoiser("unet3d", cfg, dsg_dim=32, gate_init=1.0).eval()
    pipe = DysenVDMPipeline(**parts, num_frames=F)
    pipe.set_progress_bar_config(disable=True)
    weights = {k: v.clone() for k, v in pipe.denoiser.state_dict().items()}
    fusion = [m for m in pipe.denoiser.modules() if isinstance(m, DSGFusionAttnProcessor)]
    plain, no_dsg = frames(pipe), frames(pipe, dsg=None, prompt=GRAPHS[0].text)
    assert not torch.allclose(plain, no_dsg)  # the DSG matters in this pipeline

    def processors() -> list[Any]:
        return [m.processor for m in pipe.denoiser.modules() if isinstance(m, Attention)]

    for size in ("auto", "max", 1):
        pipe.enable_attention_slicing(size)
        procs = processors()
        assert all(isinstance(p.base_processor if p in fusion else p, SlicedAttnProcessor) for p in procs)
        assert [p for p in procs if isinstance(p, DSGFusionAttnProcessor)] == fusion  # same objects, weights
        assert torch.allclose(frames(pipe), plain, atol=1e-5)
    assert pipe.denoiser.state_dict().keys() == weights.keys()
    pipe.disable_attention_slicing()
    assert all(isinstance(p.base_processor if p in fusion else p, AttnProcessor2_0) for p in processors())
    # diffusers' xformers switch (off: plain processors, runs without xformers) used to drop the fusion weights
    pipe.disable_xformers_memory_efficient_attention()
    assert [p for p in processors() if isinstance(p, DSGFusionAttnProcessor)] == fusion
    assert all(torch.equal(v, weights[k]) for k, v in pipe.denoiser.state_dict().items())
    assert torch.allclose(frames(pipe), plain, atol=1e-5)
    with pytest.raises(ValueError, match="slice_size"):
        pipe.enable_attention_slicing("half")


def test_attention_slicing_on_the_slot_pipeline_says_it_does_nothing(tokenizer: Any, caplog: Any) -> None:
    pipe = make("slot", tokenizer)
    before = frames(pipe)
    with caplog.at_level("WARNING"):
        pipe.enable_attention_slicing()
    assert "no component has attention to slice" in caplog.text
    assert torch.equal(frames(pipe), before)
