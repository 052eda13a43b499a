"""Evaluation of FAQ retrieval on shopper questions, against two baselines.

tests/data/faq_dev.jsonl has a `tune` and a `test` split; tests/data/faq_fresh.jsonl is a
second held-out set (split `fresh`), written after the engine was tuned. Everything chosen
from data -- fusion weights, abstention thresholds of every system -- is chosen on
`tune` only; the numbers reported are on the held-out splits.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.faq.bm25 import BM25
from bot.faq.corpus import Corpus
from bot.faq.encoder import BASE_MODEL, build_encoder
from bot.faq.engine import FaqEngine, FusionParams

TUNE = "tune"


@dataclass(frozen=True)
class DevQuestion:
    id: str
    query: str
    labels: tuple[str, ...]  # acceptable FAQ ids, best first; empty = the FAQ cannot answer
    split: str
    novel: bool = True  # False: the same wording also sits in the corpus (short questions)


def normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def mark_novel(dev: list[DevQuestion], corpus: Corpus) -> list[DevQuestion]:
    """Flag questions whose wording also occurs in the corpus. They were written apart
    from it, but short questions ("cancel order") collide; the report shows the numbers
    without them too, so such collisions cannot flatter the engine."""
    indexed = {normalise(t) for e in corpus.entries for t in e.texts}
    indexed |= {normalise(x) for t in corpus.out_of_scope for x in t.examples}
    return [replace(q, novel=normalise(q.query) not in indexed) for q in dev]


def load_dev(path: Path, corpus: Corpus, default_split: str = "test") -> list[DevQuestion]:
    known = set(corpus.ids)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        unknown = set(row["labels"]) - known
        if unknown:
            raise ValueError(f"{path}:{n}: labels not in the corpus: {sorted(unknown)}")
        split = row.get("split", default_split)
        out.append(DevQuestion(row["id"], row["query"], tuple(row["labels"]), split))
    return out


@dataclass(frozen=True)
class Ranked:
    """One system's view of one question: a score per FAQ entry, plus the gap to the
    closest out-of-scope example (-inf for systems that have none)."""

    scores: np.ndarray
    oos_gap: float = -math.inf


@dataclass(frozen=True)
class Threshold:
    min_score: float
    min_margin: float = 0.0
    oos_margin: float = math.inf


@dataclass(frozen=True)
class Metrics:
    top1: float  # in-scope: best-ranked entry is acceptable (abstention ignored)
    mrr3: float  # in-scope: reciprocal rank of the first acceptable entry in the top 3
    abstain_precision: float  # of the questions abstained on, share the FAQ cannot answer
    abstain_recall: float  # of the questions the FAQ cannot answer, share abstained on
    answered_right: float  # in-scope: answered (not abstained) with an acceptable entry
    overall: float  # all questions: answered right, or correctly abstained
    n_in: int
    n_out: int


@dataclass(frozen=True)
class Outcomes:
    """Per-question facts that do not depend on the abstention thresholds, as arrays,
    so that calibration can try thousands of thresholds cheaply."""

    best: np.ndarray
    margin: np.ndarray  # best minus runner-up
    oos_gap: np.ndarray
    in_scope: np.ndarray  # bool
    top1_ok: np.ndarray  # bool: best-ranked entry is acceptable
    rr3: np.ndarray  # reciprocal rank of the first acceptable entry in the top 3

    @classmethod
    def of(
        cls, ranked: Sequence[Ranked], questions: Sequence[DevQuestion], ids: list[str]
    ) -> Outcomes:
        rows = []
        for r, q in zip(ranked, questions, strict=True):
            order = np.argsort(-r.scores)
            top3 = [ids[i] for i in order[:3]]
            rr = next((1 / (k + 1) for k, fid in enumerate(top3) if fid in q.labels), 0.0)
            best = float(r.scores[order[0]])
            rows.append(
                (
                    best,
                    best - float(r.scores[order[1]]),
                    r.oos_gap,
                    bool(q.labels),
                    top3[0] in q.labels,
                    rr,
                )
            )
        cols = list(zip(*rows, strict=True)) if rows else [()] * 6
        return cls(*(np.array(c) for c in cols))

    def metrics(self, t: Threshold) -> Metrics:
        abstain = (
            (self.best < t.min_score) | (self.margin < t.min_margin) | (self.oos_gap > t.oos_margin)
        )
        n_in = int(self.in_scope.sum())
        n_out = len(self.in_scope) - n_in
        right = int((self.in_scope & ~abstain & self.top1_ok).sum())
        abstained_ok = int((abstain & ~self.in_scope).sum())
        n_abstained = int(abstain.sum())
        return Metrics(
            top1=float(self.top1_ok[self.in_scope].sum()) / max(n_in, 1),
            mrr3=float(self.rr3[self.in_scope].sum()) / max(n_in, 1),
            abstain_precision=abstained_ok / n_abstained if n_abstained else 1.0,
            abstain_recall=abstained_ok / max(n_out, 1),
            answered_right=right / max(n_in, 1),
            overall=(right + abstained_ok) / max(len(self.in_scope), 1),
            n_in=n_in,
            n_out=n_out,
        )


def metrics(
    ranked: Sequence[Ranked], questions: Sequence[DevQuestion], ids: list[str], t: Threshold
) -> Metrics:
    return Outcomes.of(ranked, questions, ids).metrics(t)


OOS_MARGINS = (math.inf, 0.1, 0.05, 0.0, -0.05)
MIN_MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05)


def calibrate(
    ranked: Sequence[Ranked], questions: Sequence[DevQuestion], ids: list[str]
) -> Threshold:
    """The abstention thresholds that maximise overall accuracy on these questions.

    Every score threshold between two observed best scores behaves the same, so the
    candidates are those scores. Several usually tie; the one returned sits in the middle
    of the tied range, as far as possible from tuning questions on either side, so that
    new questions (and gibberish far below every tuning score) land on the side the
    tuning data supports rather than on a knife edge.
    """
    outcomes = Outcomes.of(ranked, questions, ids)
    bests = sorted(set(outcomes.best.tolist()))
    candidates = [bests[0] - 0.1, *bests]  # the first one answers everything
    has_oos = bool(np.any(outcomes.oos_gap > -math.inf))
    best_t, best_v = Threshold(candidates[0]), -1.0
    for oos, margin in itertools.product(OOS_MARGINS if has_oos else (math.inf,), MIN_MARGINS):
        accs = [outcomes.metrics(Threshold(v, margin, oos)).overall for v in candidates]
        top = max(accs)
        if top > best_v + 1e-12:
            best_t, best_v = Threshold(_widest_middle(candidates, accs, top), margin, oos), top
    return best_t


def _widest_middle(candidates: list[float], accs: list[float], top: float) -> float:
    """Middle of the widest score interval over which accuracy stays at `top`.

    A run of optimal candidates i..j means every threshold in (c[i-1], c[j]] is optimal.
    """
    best_span, best_mid = -1.0, candidates[0]
    i = 0
    while i < len(candidates):
        if accs[i] < top - 1e-12:
            i += 1
            continue
        j = i
        while j + 1 < len(candidates) and accs[j + 1] >= top - 1e-12:
            j += 1
        low = candidates[i - 1] if i > 0 else candidates[0] - 0.1
        if candidates[j] - low > best_span:
            best_span, best_mid = candidates[j] - low, (low + candidates[j]) / 2
        i = j + 1
    return best_mid


@dataclass
class SystemResult:
    name: str
    params: str
    tune: Metrics
    held_out: dict[str, Metrics]


def _by_split(dev: list[DevQuestion]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, q in enumerate(dev):
        out.setdefault(q.split, []).append(i)
    return out


def _result(
    name: str,
    params: str,
    ranked: list[Ranked],
    dev: list[DevQuestion],
    ids: list[str],
    t: Threshold,
) -> SystemResult:
    splits = _by_split(dev)
    held: dict[str, Metrics] = {}
    for split, idx in splits.items():
        held[split] = metrics([ranked[i] for i in idx], [dev[i] for i in idx], ids, t)
        if split != TUNE:
            novel = [i for i in idx if dev[i].novel]
            held[f"{split}, novel wording only"] = metrics(
                [ranked[i] for i in novel], [dev[i] for i in novel], ids, t
            )
    tune = held.pop(TUNE)
    return SystemResult(name, params, tune, held)


def evaluate_engine(engine: FaqEngine, dev: list[DevQuestion]) -> tuple[SystemResult, FusionParams]:
    """Choose fusion weights and thresholds on `tune`; measure every other split."""
    ids = engine.corpus.ids
    comps = [engine.scores(q.query) for q in dev]
    tune_idx = _by_split(dev)[TUNE]
    tune_q = [dev[i] for i in tune_idx]

    def ranked_for(p: FusionParams) -> list[Ranked]:
        out = []
        for c in comps:
            fused = c.fused(p)
            out.append(Ranked(fused, c.oos_gap(int(np.argmax(fused)))))
        return out

    best: tuple[tuple[float, float], FusionParams] | None = None
    for w, half in itertools.product([0.6, 0.7, 0.8, 0.9, 1.0], [4.0, 8.0, 16.0]):
        ranked = ranked_for(FusionParams(dense_weight=w, bm25_half=half))
        tune_r = [ranked[i] for i in tune_idx]
        t = calibrate(tune_r, tune_q, ids)
        m = metrics(tune_r, tune_q, ids, t)
        if best is None or (m.overall, m.mrr3) > best[0]:
            best = (
                (m.overall, m.mrr3),
                FusionParams(w, half, t.min_score, t.min_margin, t.oos_margin),
            )
    assert best is not None
    p = best[1]
    t = Threshold(p.min_score, p.min_margin, p.oos_margin)
    params = (
        f"FAQ_DENSE_WEIGHT={p.dense_weight} FAQ_BM25_HALF={p.bm25_half} "
        f"FAQ_MIN_SCORE={p.min_score:.4f} FAQ_MIN_MARGIN={p.min_margin} "
        f"FAQ_OOS_MARGIN={p.oos_margin}"
    )
    return _result("engine: dense+BM25 fused, abstains", params, ranked_for(p), dev, ids, t), p


def evaluate_scorer(
    name: str, score: Callable[[str], np.ndarray], ids: list[str], dev: list[DevQuestion]
) -> SystemResult:
    ranked = [Ranked(score(q.query)) for q in dev]
    tune_idx = _by_split(dev)[TUNE]
    t = calibrate([ranked[i] for i in tune_idx], [dev[i] for i in tune_idx], ids)
    params = f"min_score={t.min_score:.4f} min_margin={t.min_margin}"
    return _result(name, params, ranked, dev, ids, t)


def bm25_baseline(engine: FaqEngine) -> Callable[[str], np.ndarray]:
    """BM25 (same lemmas) over each entry's canonical question + answer; no paraphrases."""
    docs = engine.lemmatizer.tokens_many(
        f"{e.question} \n {e.answer}" for e in engine.corpus.entries
    )
    index = BM25(docs)
    return lambda q: index.scores(engine.lemmatizer.tokens(q))


def minilm_baseline(engine: FaqEngine, cache_dir: Path) -> Callable[[str], np.ndarray]:
    """Plain all-MiniLM-L6-v2 (never the fine-tuned one) over "question answer" per entry."""
    encoder = build_encoder(BASE_MODEL, "onnx", cache_dir)
    vectors = encoder.encode([f"{e.question} {e.answer}" for e in engine.corpus.entries])
    return lambda q: (vectors @ encoder.encode([q])[0]).astype(np.float64)


def run(
    engine: FaqEngine, dev: list[DevQuestion], cache_dir: Path
) -> tuple[list[SystemResult], FusionParams]:
    dev = mark_novel(dev, engine.corpus)
    ours, params = evaluate_engine(engine, dev)
    ids = engine.corpus.ids
    return [
        ours,
        evaluate_scorer("baseline: BM25 over question+answer", bm25_baseline(engine), ids, dev),
        evaluate_scorer(
            "baseline: MiniLM over question+answer", minilm_baseline(engine, cache_dir), ids, dev
        ),
    ], params


def format_report(results: list[SystemResult]) -> str:
    header = (
        f"  {'system':38} {'top1':>6} {'MRR@3':>6} {'abst.P':>7} {'abst.R':>7} "
        f"{'ans.ok':>7} {'overall':>8}"
    )
    lines = []
    for split in results[0].held_out:
        m0 = results[0].held_out[split]
        lines += [
            f"held-out split '{split}': {m0.n_in} in-scope + {m0.n_out} unanswerable questions",
            header,
        ]
        for r in results:
            m = r.held_out[split]
            lines.append(
                f"  {r.name:38} {m.top1:6.3f} {m.mrr3:6.3f} {m.abstain_precision:7.3f} "
                f"{m.abstain_recall:7.3f} {m.answered_right:7.3f} {m.overall:8.3f}"
            )
        lines.append("")
    lines.append("chosen on the tune split only:")
    for r in results:
        lines.append(f"  {r.name}: {r.params} (tune overall {r.tune.overall:.3f})")
    return "\n".join(lines)
