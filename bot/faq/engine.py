"""The FAQ retrieval engine: dense + lexical scores fused, with abstention.

For each FAQ entry the engine scores a query two ways:
- dense: the best cosine similarity between the query and the entry's question or any
  of its paraphrases (all-MiniLM-L6-v2 vectors);
- lexical: BM25 over spaCy lemmas of the entry's question, paraphrases and answer,
  squashed into 0..1 by s / (s + bm25_half).
The fused score is a weighted sum. The engine abstains ("I don't know") when the best
fused score is low, too close to the runner-up, or when the query is closer to one of
the known out-of-scope questions (faq_corpus/out_of_scope.yml) than to the best entry:
a wrong policy answer is worse than a hand-off. Weights and thresholds are chosen on the
tune split of tests/data/faq_dev.jsonl (`bot faq eval` prints what it chose); the defaults
in settings are those values.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.faq.bm25 import BM25
from bot.faq.corpus import Corpus, FaqEntry, load_corpus
from bot.faq.encoder import Encoder, build_encoder
from bot.faq.text import Lemmatizer
from bot.settings import Settings

log = logging.getLogger(__name__)

# Longer input is cut before it is analysed: no FAQ question needs more, and it keeps
# one pasted essay from costing the next shopper their latency.
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class FusionParams:
    dense_weight: float = 0.75
    bm25_half: float = 8.0
    min_score: float = 0.55
    min_margin: float = 0.0
    oos_margin: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionParams:
        return cls(
            dense_weight=settings.faq_dense_weight,
            bm25_half=settings.faq_bm25_half,
            min_score=settings.faq_min_score,
            min_margin=settings.faq_min_margin,
            oos_margin=settings.faq_oos_margin,
        )


@dataclass(frozen=True)
class Candidate:
    faq_id: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    query: str
    entry: FaqEntry | None  # None when the engine abstains
    score: float  # fused score of the best candidate (0 for empty input)
    abstained: bool
    alternatives: list[Candidate] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of `bot faq search --json` (see README)."""
        return {
            "query": self.query,
            "faq_id": self.entry.id if self.entry else None,
            "question": self.entry.question if self.entry else None,
            "answer": self.entry.answer if self.entry else None,
            "score": round(self.score, 4),
            "abstained": self.abstained,
            "alternatives": [
                {"faq_id": c.faq_id, "score": round(c.score, 4)} for c in self.alternatives
            ],
            "error": self.error,
        }


@dataclass(frozen=True)
class Scores:
    """Per-entry scores of one query, in corpus order."""

    dense: np.ndarray
    bm25: np.ndarray
    oos: float  # best cosine to an out-of-scope example (-1 when there are none)

    def fused(self, p: FusionParams) -> np.ndarray:
        lexical = self.bm25 / (self.bm25 + p.bm25_half)
        return p.dense_weight * self.dense + (1 - p.dense_weight) * lexical

    def oos_gap(self, best: int) -> float:
        """How much closer the query is to out-of-scope questions than to entry `best`."""
        return self.oos - float(self.dense[best])


def abstains(
    fused: np.ndarray, oos_gap: float, min_score: float, min_margin: float, oos_margin: float
) -> tuple[int, bool]:
    """Index of the best entry, and whether to abstain on it (the one abstention rule)."""
    order = np.argsort(-fused)
    best = float(fused[order[0]])
    runner_up = float(fused[order[1]]) if len(order) > 1 else 0.0
    abstain = best < min_score or best - runner_up < min_margin or oos_gap > oos_margin
    return int(order[0]), abstain


class FaqEngine:
    def __init__(
        self,
        corpus: Corpus,
        encoder: Encoder,
        lemmatizer: Lemmatizer,
        params: FusionParams,
        text_vectors: np.ndarray,
        entry_tokens: list[list[str]],
        oos_vectors: np.ndarray,
    ) -> None:
        self.corpus = corpus
        self.encoder = encoder
        self.lemmatizer = lemmatizer
        self.params = params
        self._vectors = text_vectors
        counts = [len(e.texts) for e in corpus.entries]
        # Texts are stored entry by entry; reduceat needs where each entry starts.
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._bm25 = BM25(entry_tokens)
        self._oos_vectors = oos_vectors

    @classmethod
    def load(cls, settings: Settings, corpus: Corpus | None = None) -> FaqEngine:
        """Build the engine, reusing on-disk caches that match the model and corpus."""
        _single_threaded_blas()
        corpus = corpus or load_corpus(settings.faq_corpus_dir)
        _warn_if_stale(settings.faq_model, corpus)
        encoder = build_encoder(settings.faq_model, settings.faq_backend, settings.faq_cache_dir)
        lemmatizer = Lemmatizer(settings.faq_spacy_model)
        cache = settings.faq_cache_dir / "index"
        cache.mkdir(parents=True, exist_ok=True)
        vectors = _cached_vectors(cache, corpus, encoder)
        n_texts = sum(len(e.texts) for e in corpus.entries)
        tokens = _cached_tokens(cache, corpus, lemmatizer, settings.faq_spacy_model)
        params = FusionParams.from_settings(settings)
        return cls(
            corpus, encoder, lemmatizer, params, vectors[:n_texts], tokens, vectors[n_texts:]
        )

    def with_params(self, params: FusionParams) -> FaqEngine:
        clone = object.__new__(FaqEngine)
        clone.__dict__.update(self.__dict__)
        clone.params = params
        return clone

    def scores(self, query: str) -> Scores:
        text = query[:MAX_QUERY_CHARS]
        q = self.encoder.encode([text])[0]
        dense = np.maximum.reduceat(self._vectors @ q, self._starts)
        lexical = self._bm25.scores(self.lemmatizer.tokens(text))
        oos = float(np.max(self._oos_vectors @ q)) if len(self._oos_vectors) else -1.0
        return Scores(dense=dense.astype(np.float64), bm25=lexical, oos=oos)

    def search(self, query: str, k: int = 3) -> SearchResult:
        if not query.strip():
            return SearchResult(query, None, 0.0, True, [], error="empty question")
        scores = self.scores(query)
        fused = scores.fused(self.params)
        p = self.params
        top = int(np.argmax(fused))
        best, abstain = abstains(
            fused, scores.oos_gap(top), p.min_score, p.min_margin, p.oos_margin
        )
        ranked = [
            Candidate(self.corpus.entries[i].id, float(fused[i])) for i in np.argsort(-fused)[:k]
        ]
        entry = None if abstain else self.corpus.entries[best]
        alternatives = ranked if abstain else ranked[1:]
        return SearchResult(query, entry, float(fused[best]), abstain, alternatives)


def _single_threaded_blas() -> None:
    """One BLAS thread for this process.

    A query's similarity product is tiny (a few thousand rows times 384), and BLAS worker
    threads only fight onnxruntime's for the two cores: measured here, limiting BLAS
    took a search from 16 ms to 6 ms at p50.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _warn_if_stale(model: str, corpus: Corpus) -> None:
    from bot.faq.finetune import trained_on

    stamp = trained_on(Path(model))
    if stamp and stamp[0] != corpus.fingerprint:
        log.warning(
            "the FAQ encoder %s was fine-tuned on an older corpus; run `make train` "
            "to retrain it on the current one",
            model,
        )


def _cached_vectors(cache: Path, corpus: Corpus, encoder: Encoder) -> np.ndarray:
    path = cache / f"vectors-{encoder.key}-{corpus.fingerprint}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float32)
    # Entry texts first, then the out-of-scope examples.
    texts = [t for e in corpus.entries for t in e.texts]
    texts += [x for topic in corpus.out_of_scope for x in topic.examples]
    vectors = encoder.encode(texts)
    _atomic_write(path, lambda f: np.save(f, vectors))
    return vectors


def _cached_tokens(
    cache: Path, corpus: Corpus, lemmatizer: Lemmatizer, spacy_model: str
) -> list[list[str]]:
    path = cache / f"lemmas-{spacy_model}-{corpus.fingerprint}.json"
    if path.is_file():
        tokens: list[list[str]] = json.loads(path.read_text())
        return tokens
    docs = [" \n ".join([*e.texts, e.answer]) for e in corpus.entries]
    tokens = lemmatizer.tokens_many(docs)
    _atomic_write(path, lambda f: f.write(json.dumps(tokens).encode()))
    return tokens


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{time.monotonic_ns()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    tmp.replace(path)


__all__ = ["Candidate", "FaqEngine", "FusionParams", "Scores", "SearchResult", "abstains"]
