"""A local causal language model through ``transformers`` (no server, no key).

The model and tokenizer are loaded with ``from_pretrained(path)`` on first use; prompts are built with the
tokenizer's chat template. Generation runs in a worker thread, one request at a time (a model on one
device gains nothing from interleaving). Structured output is not enforced: the prompt asks for JSON and
:class:`~dysen.LLMPlanner` validates and repairs the answer like any other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from ..errors import BackendError, ConfigurationError, ModelNotFoundError
from .accounting import UsageMeter
from .types import ChatRequest, ChatResponse, Usage

__all__ = ["TransformersChatModel"]

log = logging.getLogger(__name__)


class TransformersChatModel:
    """Chat with a local ``AutoModelForCausalLM``.

    Args:
        path: a folder written by ``save_pretrained`` (or a hub id already in the local cache).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        dtype: ``torch`` dtype name (``"float32"``, ``"bfloat16"``); default: the checkpoint's.
        model_id: name used for caching and provenance (default ``transformers:<folder name>``).
        trust_remote_code: passed to ``from_pretrained`` (off by default: never run code from a checkpoint
            you have not read).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        model_id: str | None = None,
        trust_remote_code: bool = False,
        meter: UsageMeter | None = None,
    ) -> None:
        self.path = str(path)
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self._model_id = model_id or f"transformers:{Path(self.path).name or self.path}"
        self._meter = meter or UsageMeter()
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._gen_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def meter(self) -> UsageMeter:
        return self._meter

    def __repr__(self) -> str:
        return f"TransformersChatModel({self.path!r}, device={self.device!r})"

    def load(self) -> tuple[Any, Any]:
        """Load (once) and return ``(model, tokenizer)``."""
        with self._load_lock:
            if self._model is None:
                try:
                    import torch
                    from transformers import AutoModelForCausalLM, AutoTokenizer
                except ImportError as exc:  # pragma: no cover - dependencies
                    raise ConfigurationError("transformers and torch are needed for TransformersChatModel") from exc
                kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
                if self.dtype is not None:
                    kwargs["dtype"] = getattr(torch, self.dtype)
                try:
                    tok = AutoTokenizer.from_pretrained(self.path, trust_remote_code=self.trust_remote_code)
                    model = AutoModelForCausalLM.from_pretrained(self.path, **kwargs)
                except OSError as exc:
                    raise ModelNotFoundError(f"cannot load a causal LM from {self.path!r}: {exc}") from exc
                model.to(self.device).eval()
                self._model, self._tokenizer = model, tok
        return self._model, self._tokenizer

    def _prompt_ids(self, tok: Any, request: ChatRequest) -> Any:
        messages = [dict(m) for m in request.messages]
        if getattr(tok, "chat_template", None):
            out = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            return out["input_ids"]
        log.warning("%s has no chat template; using a plain 'role: content' layout", self.path)
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return tok(text, return_tensors="pt")["input_ids"]

    def _generate(self, request: ChatRequest) -> ChatResponse:
        import torch

        model, tok = self.load()
        ids = self._prompt_ids(tok, request).to(self.device)
        sample = request.temperature > 0
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": sample,
            "attention_mask": torch.ones_like(ids),
        }
        if sample:
            gen_kwargs["temperature"] = request.temperature
        if tok.pad_token_id is None and tok.eos_token_id is not None:
            gen_kwargs["pad_token_id"] = tok.eos_token_id
        with self._gen_lock, torch.inference_mode():
            if request.seed is not None:
                torch.manual_seed(request.seed)
            out = model.generate(ids, **gen_kwargs)
        new = out[0, ids.shape[1] :]
        text = tok.decode(new, skip_special_tokens=True)
        finish = "length" if new.shape[0] >= request.max_tokens else "stop"
        response = ChatResponse(text, Usage(int(ids.shape[1]), int(new.shape[0])), self._model_id, finish)
        self._meter.record(response, self._model_id)
        return response

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        try:
            return await asyncio.to_thread(self._generate, request)
        except (ModelNotFoundError, ConfigurationError):
            raise
        except Exception as exc:  # generation errors become backend errors, like HTTP failures
            self._meter.record_error("generation")
            raise BackendError(f"{self._model_id}: generation failed: {type(exc).__name__}: {exc}", "other") from exc
