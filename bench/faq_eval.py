"""FAQ accuracy on the held-out sets beside its two baselines: `bot faq eval`, with --json.

Prints exactly what `bot faq eval` prints (the engine, BM25 over question+answer and plain
MiniLM over question+answer, each tuned on the `tune` split only and measured on every
other split, in the same run); `--json PATH` also writes those figures.

Usage: .venv/bin/python bench/faq_eval.py [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from figures import add_json_option, write_json

from bot.faq import FaqEngine
from bot.faq.evaluate import format_report, load_dev, run
from bot.settings import PROJECT_ROOT, Settings

DEV_SET = PROJECT_ROOT / "tests" / "data" / "faq_dev.jsonl"
FRESH_SET = PROJECT_ROOT / "tests" / "data" / "faq_fresh.jsonl"
# README's targets for the engine on every held-out split (in-scope top-1, overall).
TARGETS = {"top1": 0.95, "overall": 0.93}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_json_option(parser)
    args = parser.parse_args()
    settings = Settings()
    engine = FaqEngine.load(settings)
    questions = load_dev(DEV_SET, engine.corpus)
    extra = load_dev(FRESH_SET, engine.corpus, default_split="fresh") if FRESH_SET.is_file() else []
    started = time.perf_counter()
    results, _params = run(engine, questions + extra, settings.faq_cache_dir)
    seconds = time.perf_counter() - started
    print(format_report(results))
    print(f"\n({seconds:.1f} s; engine model: {engine.encoder.name})")
    write_json(
        args.json,
        {
            "encoder": engine.encoder.name,
            "seconds": seconds,
            "targets": TARGETS,
            "systems": [
                {
                    "name": r.name,
                    "params": r.params,
                    "tune": dataclasses.asdict(r.tune),
                    "held_out": {split: dataclasses.asdict(m) for split, m in r.held_out.items()},
                }
                for r in results
            ],
        },
    )


if __name__ == "__main__":
    main()
