"""CLIP tokenizer files built offline, and a check against the offline CLIP tokenizer trap.

CLIP's byte-level BPE is fully defined by OpenAI's merge list ``bpe_simple_vocab_16e6.txt.gz``, which the
``open-clip-torch`` wheel ships as ``open_clip/bpe_simple_vocab_16e6.txt.gz``. From it,
:func:`build_clip_tokenizer_files` writes the ``vocab.json`` (49,408 entries) and ``merges.txt`` (48,894 merges)
that ``transformers.CLIPTokenizer.from_pretrained(folder)`` reads, with the exact vocabulary order of OpenAI's
``SimpleTokenizer`` (256 byte symbols, the same with ``</w>``, one token per merge, then ``<|startoftext|>`` and
``<|endoftext|>``), i.e. the ids of the Hugging Face ``openai/clip-vit-*`` tokenizers.

The trap (transformers 5): ``CLIPTokenizer.from_pretrained("<hub id>")`` without network, and
``CLIPTokenizer(vocab_file=..., merges_file=...)``, return without error a tokenizer that knows only its special
tokens. :func:`check_clip_tokenizer` detects it.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from .errors import BrokenTokenizerError, WeightsFormatError, WeightsNotFoundError

__all__ = [
    "CLIP_NUM_MERGES",
    "CLIP_VOCAB_SIZE",
    "build_clip_tokenizer_files",
    "check_clip_tokenizer",
    "find_open_clip_bpe",
]

CLIP_VOCAB_SIZE = 49408
CLIP_NUM_MERGES = 49152 - 256 - 2  # OpenAI's SimpleTokenizer keeps lines 1 .. 48894 of the merge file
_BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"
_SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
_PROBE_TEXT = "a photo of a cat riding a bicycle"


def _bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte → printable unicode map of byte-level BPE (GPT-2/CLIP)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, codes)}


def find_open_clip_bpe() -> Path:
    """Path of ``bpe_simple_vocab_16e6.txt.gz`` inside an installed ``open_clip`` package (not imported)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            f"{_BPE_NAME} not found: install open-clip-torch (pip install --no-deps open-clip-torch is enough, "
            "only its data file is read) or pass bpe_path= (the .txt.gz, or an open_clip_torch wheel)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _BPE_NAME
    if not path.is_file():
        raise WeightsNotFoundError(f"the installed open_clip package has no {_BPE_NAME} at {path}")
    return path


def _read_merge_lines(bpe_path: Path) -> list[str]:
    if bpe_path.suffix == ".whl":
        with zipfile.ZipFile(bpe_path) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith(f"open_clip/{_BPE_NAME}")), None)
            if member is None:
                raise WeightsFormatError(f"wheel {bpe_path} contains no open_clip/{_BPE_NAME}")
            data = gzip.decompress(wheel.read(member))
    else:
        data = gzip.decompress(bpe_path.read_bytes()) if bpe_path.suffix == ".gz" else bpe_path.read_bytes()
    lines = data.decode("utf-8").split("\n")
    merges = lines[1 : CLIP_NUM_MERGES + 1]  # line 0 is a version header
    if len(merges) != CLIP_NUM_MERGES or any(len(line.split()) != 2 for line in merges):
        raise WeightsFormatError(f"{bpe_path} is not CLIP's merge list ({CLIP_NUM_MERGES} 'a b' lines after a header)")
    return merges


def build_clip_tokenizer_files(out_dir: str | os.PathLike, bpe_path: str | os.PathLike | None = None) -> Path:
    """Write ``vocab.json``, ``merges.txt`` and ``special_tokens_map.json`` of the CLIP tokenizer to ``out_dir``.

    Args:
        out_dir: folder to write (created if missing); afterwards ``CLIPTokenizer.from_pretrained(out_dir)``
            works offline.
        bpe_path: ``bpe_simple_vocab_16e6.txt.gz`` (or the plain text, or an ``open_clip_torch-*.whl``);
            ``None`` = the file of the installed ``open_clip`` package (:func:`find_open_clip_bpe`).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    bpe = Path(bpe_path) if bpe_path is not None else find_open_clip_bpe()
    if not bpe.is_file():
        raise WeightsNotFoundError(f"CLIP merge list not found at {bpe}")
    merges = _read_merge_lines(bpe)
    symbols = list(_bytes_to_unicode().values())
    tokens = [*symbols, *(s + "</w>" for s in symbols), *(m.replace(" ", "") for m in merges), *_SPECIAL_TOKENS]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != CLIP_VOCAB_SIZE:
        raise WeightsFormatError(f"built {len(vocab)} distinct tokens from {bpe}, expected {CLIP_VOCAB_SIZE}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {
        "bos_token": _SPECIAL_TOKENS[0],
        "eos_token": _SPECIAL_TOKENS[1],
        "unk_token": _SPECIAL_TOKENS[1],
        "pad_token": _SPECIAL_TOKENS[1],
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, **special}
    (out / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return out


def check_clip_tokenizer(tokenizer: Any, source: str = "the tokenizer") -> Any:
    """Raise :class:`BrokenTokenizerError` if ``tokenizer`` cannot tokenize text; return it otherwise.

    Broken means: at most two tokens in its vocabulary (the offline trap), or a probe caption that encodes to
    special/unknown ids only.
    """
    size = len(tokenizer)
    if size <= 2:
        raise BrokenTokenizerError(
            f"{source} has only {size} tokens (the offline CLIP tokenizer trap: a hub id loaded without network, "
            "or CLIPTokenizer(vocab_file=..., merges_file=...)). Load it from a local folder with vocab.json and "
            "merges.txt, e.g. one written by vdm.metrics.build_clip_tokenizer_files()."
        )
    ids = tokenizer(_PROBE_TEXT)["input_ids"]
    special = set(getattr(tokenizer, "all_special_ids", ()))
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is not None:
        special.add(unk)
    if all(i in special for i in ids):
        raise BrokenTokenizerError(
            f"{source} encodes {_PROBE_TEXT!r} to special/unknown ids only ({ids}); its vocabulary is unusable"
        )
    return tokenizer
