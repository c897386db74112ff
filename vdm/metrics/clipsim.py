"""CLIPSIM (Wu et al. 2021, GODIVA): mean cosine similarity between a video's frames and its caption under CLIP.

For a video ``v`` with frames ``f₁ … f_T`` and caption ``c``,

    CLIPSIM(v, c) = 1/T Σₜ cos( E_img(fₜ), E_txt(c) ),

with ``E_img``/``E_txt`` CLIP's projected image and text embeddings; the dataset score is the mean over videos.
The paper's MSR-VTT numbers (Table 1, e.g. 0.3204 for Dysen-VDM) are this raw cosine, so the default
``scale`` is 1; some papers multiply by 100 (``scale=100``). CLIP's learned ``logit_scale`` is *not* applied.

CLIP is a transformers ``CLIPModel`` + tokenizer (+ image processor) loaded from a local folder
(:meth:`ClipSimilarity.from_pretrained`); the paper does not name the CLIP variant, VideoFactory/Make-A-Video
and most T2V papers use ViT-B/32 (``openai/clip-vit-base-patch32``), see docs/metrics.md. transformers is
imported lazily, on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ._files import device_of
from .clip_tokenizer import check_clip_tokenizer
from .errors import MetricInputError, NotEnoughSamplesError, WeightsNotFoundError
from .preprocess import VideoLayout, normalize_videos, resize_center_crop, to_uint8, video_frames

__all__ = ["CLIP_IMAGE_MEAN", "CLIP_IMAGE_STD", "ClipSimilarity"]

#: Pixel normalisation of OpenAI CLIP (used when no image processor is given).
CLIP_IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)


def _embedding(output: Any) -> Tensor:
    """CLIPModel.get_*_features returns a tensor (transformers 4) or an output with ``pooler_output`` (5)."""
    return output if isinstance(output, Tensor) else output.pooler_output


class ClipSimilarity:
    """Streaming CLIPSIM over (videos, captions) batches; keeps every per-video score.

    Args:
        model: a transformers ``CLIPModel`` (anything with ``get_image_features``/``get_text_features``).
        tokenizer: its tokenizer; checked with :func:`~vdm.metrics.clip_tokenizer.check_clip_tokenizer`.
        image_processor: a ``CLIPImageProcessor`` (frames are given to it as uint8 CHW tensors); ``None`` uses the
            built-in torch path: bicubic resize of the shorter side (antialiased) to the model's image size, centre
            crop, OpenAI mean/std normalisation. The two agree closely but not bit-exactly (PIL vs torch resize).
        layout, value_range: how to read the videos (:func:`~vdm.metrics.preprocess.normalize_videos`).
        scale: multiply the reported cosine by this (1 = the paper's convention, 100 = percent convention).
        batch_size: frames per image-encoder call.
        max_length: caption token limit (CLIP's context is 77; longer captions are truncated).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        image_processor: Any = None,
        layout: VideoLayout = "BTCHW",
        value_range: tuple[float, float] | None = None,
        scale: float = 1.0,
        batch_size: int = 64,
        max_length: int = 77,
    ) -> None:
        self.model = model.eval() if hasattr(model, "eval") else model
        self.tokenizer = check_clip_tokenizer(tokenizer)
        self.image_processor = image_processor
        self.layout: VideoLayout = layout
        self.value_range = value_range
        self.scale = scale
        self.batch_size = batch_size
        self.max_length = max_length
        self._scores: list[Tensor] = []
        self._captions: list[str] = []

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> ClipSimilarity:
        """Load ``CLIPModel``, tokenizer and (if the folder has one) image processor from a local folder.

        A hub id is refused on purpose: offline, ``from_pretrained("<hub id>")`` yields a broken tokenizer.
        """
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise WeightsNotFoundError(
                f"CLIP folder not found: {path!r}. Pass a local folder holding config.json, the weights, vocab.json "
                "and merges.txt (hub ids are not fetched; see docs/metrics.md)"
            )
        from transformers import AutoImageProcessor, CLIPModel, CLIPTokenizer

        model = CLIPModel.from_pretrained(path, local_files_only=True, dtype=dtype).to(device)
        tokenizer = check_clip_tokenizer(CLIPTokenizer.from_pretrained(path, local_files_only=True), source=path)
        processor = None
        if os.path.isfile(os.path.join(path, "preprocessor_config.json")):
            processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        return cls(model, tokenizer, processor, **kwargs)

    def _pixel_values(self, frames: Tensor) -> Tensor:
        """Frames ``(N, 3, H, W)`` in [0, 1] → CLIP pixel values."""
        if self.image_processor is not None:
            images = list(to_uint8(frames))
            return self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        size = self.model.config.vision_config.image_size
        images = resize_center_crop(frames, size, mode="bicubic", antialias=True).clamp(0, 1)
        mean = torch.tensor(CLIP_IMAGE_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_IMAGE_STD).view(1, 3, 1, 1)
        return (images - mean) / std

    @torch.no_grad()
    def text_embeddings(self, captions: Sequence[str]) -> Tensor:
        """L2-normalised CLIP text embeddings ``(B, D)``."""
        device = device_of(self.model)
        inputs = self.tokenizer(
            list(captions), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        return F.normalize(_embedding(self.model.get_text_features(**inputs)).float(), dim=-1)

    @torch.no_grad()
    def frame_embeddings(self, videos: Tensor) -> Tensor:
        """L2-normalised CLIP image embeddings of every frame, ``(B, T, D)``."""
        videos = normalize_videos(videos, self.layout, self.value_range)
        batch, frames = videos.shape[:2]
        device = device_of(self.model)
        dtype = next(self.model.parameters()).dtype
        flat = video_frames(videos)
        embeddings = []
        for start in range(0, flat.shape[0], self.batch_size):
            pixels = self._pixel_values(flat[start : start + self.batch_size]).to(device=device, dtype=dtype)
            embeddings.append(_embedding(self.model.get_image_features(pixel_values=pixels)).float())
        return F.normalize(torch.cat(embeddings), dim=-1).reshape(batch, frames, -1)

    @torch.no_grad()
    def update(self, videos: Tensor, captions: Sequence[str]) -> Tensor:
        """Score a batch of videos against their captions; returns (and keeps) the per-video CLIPSIM ``(B,)``.

        The returned scores are raw cosines; ``scale`` is applied by :meth:`compute` and :attr:`scores`.
        """
        if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
            raise MetricInputError("captions must be a sequence of strings, one per video")
        if len(captions) != len(videos):
            raise MetricInputError(f"got {len(videos)} videos but {len(captions)} captions")
        frames = self.frame_embeddings(videos)
        text = self.text_embeddings(captions).to(frames.device)
        per_video = (frames * text[:, None, :]).sum(dim=-1).mean(dim=1).cpu()
        self._scores.append(per_video)
        self._captions.extend(captions)
        return per_video

    @property
    def scores(self) -> Tensor:
        """Per-video CLIPSIM of every video so far (times ``scale``), in update order."""
        if not self._scores:
            raise NotEnoughSamplesError("no videos scored yet: call update() first")
        return torch.cat(self._scores) * self.scale

    @property
    def captions(self) -> list[str]:
        """The captions scored so far, aligned with :attr:`scores`."""
        return list(self._captions)

    def compute(self) -> float:
        """Mean CLIPSIM over all videos so far (times ``scale``)."""
        return float(self.scores.mean())

    def reset(self) -> None:
        self._scores, self._captions = [], []
