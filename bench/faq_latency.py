"""FAQ retrieval latency on these cores, beside a bare sentence-transformers encode.

Prints, in one run:
- warm start: a fresh process importing the engine and loading it from valid caches;
- per-query latency of `FaqEngine.search` (p50/p95) over the dev-set questions, with
  its parts (encode, lemmatize + BM25);
- the baseline: a bare `SentenceTransformer.encode` of the same questions (torch, CPU).

Usage: .venv/bin/python bench/faq_latency.py [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from figures import add_json_option, write_json

ROOT = Path(__file__).resolve().parent.parent
WARM_START = """
import time; t = time.perf_counter()
from bot.settings import Settings
from bot.faq import FaqEngine
engine = FaqEngine.load(Settings())
engine.search("warm up")
print(time.perf_counter() - t)
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn, items: list[str], rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - start) * 1000)
    return out


def row(name: str, ms: list[float]) -> str:
    return f"  {name:44} p50 {pct(ms, 50):7.2f} ms   p95 {pct(ms, 95):7.2f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    add_json_option(parser)
    args = parser.parse_args()

    from bot.faq import FaqEngine
    from bot.faq.encoder import BASE_MODEL, resolve_model_dir
    from bot.settings import Settings

    settings = Settings()
    engine = FaqEngine.load(settings)  # builds caches if needed, so the next start is warm
    starts = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", WARM_START], cwd=ROOT, check=True, capture_output=True, text=True
        )
        starts.append(float(out.stdout.strip().splitlines()[-1]))

    lines = (ROOT / "tests" / "data" / "faq_dev.jsonl").read_text().splitlines()
    questions = [json.loads(line)["query"] for line in lines if line.strip()]
    for q in questions[:20]:
        engine.search(q)
    search = timed(engine.search, questions, args.rounds)
    encode = timed(lambda q: engine.encoder.encode([q]), questions, args.rounds)
    lexical = timed(
        lambda q: engine._bm25.scores(engine.lemmatizer.tokens(q)), questions, args.rounds
    )

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(resolve_model_dir(BASE_MODEL)), device="cpu")
    for q in questions[:20]:
        st.encode(q)
    bare = timed(lambda q: st.encode(q, normalize_embeddings=True), questions, args.rounds)

    print(
        f"FAQ latency, {len(questions)} dev-set questions x {args.rounds} rounds, "
        f"engine encoder {engine.encoder.name}"
    )
    print(
        f"  warm start (new process, valid caches):      "
        f"{statistics.median(starts):.2f} s median of {len(starts)} (target < 2 s)"
    )
    print(row("FaqEngine.search (whole query)", search))
    print(row("  of which: encode (onnxruntime)", encode))
    print(row("  of which: spaCy lemmas + BM25", lexical))
    print(row("baseline: bare SentenceTransformer.encode", bare))
    print(
        f"  speed-up at p50: {pct(bare, 50) / pct(search, 50):.1f}x (target: search p50 <= 10 ms)"
    )

    def p50_p95(ms: list[float]) -> dict[str, float]:
        return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "n": len(ms)}

    write_json(
        args.json,
        {
            "encoder": engine.encoder.name,
            "questions": len(questions),
            "rounds": args.rounds,
            "warm_start_s": statistics.median(starts),
            "warm_start_target_s": 2.0,
            "search": p50_p95(search),
            "encode": p50_p95(encode),
            "bm25": p50_p95(lexical),
            "baseline_sentence_transformers": p50_p95(bare),
            "search_p50_target_ms": 10.0,
        },
    )


if __name__ == "__main__":
    main()
