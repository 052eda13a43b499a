"""Staff suggestions: accuracy on held-out messages and e-mails, and latency, on these cores.

Prints, in one run:
- suggestions for single shopper messages (tests/data/staff_questions_heldout.jsonl): share
  of messages whose FAQ entry is in the top 3 / is the top 1 of `faq_suggestions`;
- e-mails, each set reported apart: the held-out sets written independently
  (tests/data/staff_emails_heldout5.jsonl is the one that counts; sets 1-3 were looked at
  while the rules were written, set 4 after they were, so they are spent) and the development
  e-mails
  (tests/data/staff_emails_dev.jsonl, which the rules were tuned on): questions found and
  answered (the FAQ entry in the found question's top 3), questions found, noise taken for
  questions by kind (greetings, sign-offs, signatures and quoted lines: never allowed;
  statements), questions found where none was annotated, unanswerable questions flagged
  "not answered", and requests for an action listed apart from questions — for
  `answer_email` (spaCy + quote/signature rules) and the naive baseline (every sentence
  searched);
- latency: `faq_suggestions` per message and bare `FaqEngine.search` (p50/p95), and
  `answer_email` per e-mail, for those with exactly 5 annotated questions (of every set
  that was read) and for all.

The metrics are computed by bot/staff/email_eval.py, which the tests use too. A set whose
file is not there is skipped, and the report says so.

Usage: ENVIRONMENT=local .venv/bin/python bench/staff_suggest.py [--rounds N] [--json PATH]
       [--failures [SETS]] [--sets messages,heldout5,heldout4,heldout3,heldout2,heldout,dev]
(`make bench` sets ENVIRONMENT=local.)
(`--failures heldout5,dev` lists the misses of those sets only: a spent held-out set's
texts need not be shown again.)
(`--sets dev` while working on the rules: the held-out sets are read once, at the end.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
QUESTIONS_HELDOUT = DATA / "staff_questions_heldout.jsonl"
# (key, title, file) of the e-mail sets, in the order they are reported.
EMAIL_SETS = [
    ("heldout5", "held-out e-mails, set 5", DATA / "staff_emails_heldout5.jsonl"),
    ("heldout4", "held-out e-mails, set 4", DATA / "staff_emails_heldout4.jsonl"),
    ("heldout3", "held-out e-mails, set 3", DATA / "staff_emails_heldout3.jsonl"),
    ("heldout2", "held-out e-mails, set 2", DATA / "staff_emails_heldout2.jsonl"),
    ("heldout", "held-out e-mails, set 1", DATA / "staff_emails_heldout.jsonl"),
    ("dev", "development e-mails", DATA / "staff_emails_dev.jsonl"),
]
ALL_SETS = ["messages", *(key for key, _t, _p in EMAIL_SETS)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn, items: list[Any], rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - start) * 1000)
    return out


def row(name: str, ms: list[float], target: str = "") -> str:
    line = f"  {name:44} p50 {pct(ms, 50):7.2f} ms   p95 {pct(ms, 95):7.2f} ms   (n={len(ms)})"
    return f"{line}   {target}" if target else line


def share(n: int, d: int) -> str:
    return f"{n / d:.3f} ({n}/{d})" if d else "n/a (0)"


def email_report(title: str, ours: Any, naive: Any) -> list[str]:
    from bot.staff.email_eval import GUARANTEED_KINDS, NOISE_KINDS

    lines = [
        f"{title}: {ours.emails} e-mails, {ours.questions} annotated questions "
        f"({ours.answerable} answerable, {ours.unanswerable} not answered by the FAQ)"
    ]
    lines.append(f"  {'':44} {'answer_email':>22} {'naive baseline':>22}")

    def both(name: str, a: str, b: str, target: str = "") -> None:
        lines.append(f"  {name:44} {a:>22} {b:>22}   {target}".rstrip())

    both(
        "(a) found and answered (entry in top 3)",
        share(ours.found_answered, ours.answerable),
        share(naive.found_answered, naive.answerable),
        "target >= 0.97",
    )
    both(
        "    of which answered right on its own",
        share(ours.answered_right, ours.answerable),
        share(naive.answered_right, naive.answerable),
    )
    both(
        "(b) found (all annotated questions)",
        share(ours.found, ours.questions),
        share(naive.found, naive.questions),
    )
    both("(c) noise taken for a question", str(ours.noise_hits), str(naive.noise_hits), "target 0")
    for kind in NOISE_KINDS:
        guaranteed = kind in GUARANTEED_KINDS
        both(
            f"      of kind {kind}",
            str(ours.noise_by_kind[kind]),
            str(naive.noise_by_kind[kind]),
            "never (hard guarantee)" if guaranteed else "target 0",
        )
    both("    found where nothing was annotated", str(ours.stray), str(naive.stray))
    both("    questions extracted", str(ours.extracted), str(naive.extracted))
    both(
        "(d) unanswerable flagged not answered",
        share(ours.unanswerable_flagged, ours.unanswerable),
        share(naive.unanswerable_flagged, naive.unanswerable),
    )
    both(
        "    unanswerable given a confident answer",
        str(ours.unanswerable_answered),
        str(naive.unanswerable_answered),
    )
    both(
        "    requests listed (apart from questions)",
        f"{ours.requests} ({ours.requests_on_statements} on statements)",
        "-",
    )
    if ours.bad_annotations:
        lines.append(f"  ! {ours.bad_annotations} annotations not found in their e-mail")
    return lines


def report_messages(engine: Any, results: dict[str, Any], failures: bool) -> list[str]:
    """Top-3/top-1 of `faq_suggestions` on the held-out messages; their texts (for timing)."""
    from bot.staff.email_eval import load_jsonl, score_suggestions

    if not QUESTIONS_HELDOUT.is_file():
        print(f"Suggestions for one message: {QUESTIONS_HELDOUT} is not there (yet): skipped")
        return []
    rows = load_jsonl(QUESTIONS_HELDOUT)
    s = score_suggestions(rows, engine)
    results["suggestions_heldout"] = s.to_json()
    print(f"Suggestions for one message: {QUESTIONS_HELDOUT.name}, {s.questions} messages")
    print(
        f"  FAQ entry in the top 3                       {share(s.top3, s.questions)}"
        "   target >= 0.98"
    )
    print(f"  FAQ entry is the top 1                       {share(s.top1, s.questions)}")
    print(
        f"  engine confident (would answer on its own)   {share(s.confident, s.questions)}"
        f"; right when confident {share(s.confident_right, s.confident)}"
    )
    if failures:
        print("\n".join(f"    miss: {f}" for f in s.failures))
    return [r["text"] for r in rows]


def report_emails(
    engine: Any,
    nlp: Any,
    key: str,
    title: str,
    path: Path,
    results: dict[str, Any],
    failures: bool,
) -> list[dict[str, Any]]:
    """One e-mail set scored for `answer_email` and the naive baseline; its rows."""
    from bot.staff.email_eval import email_extractor, load_jsonl, naive_extractor, score_emails

    if not path.is_file():
        print(f"{title}: {path} is not there (yet): skipped")
        return []
    rows = load_jsonl(path)
    ours = score_emails(rows, email_extractor(engine, nlp))
    naive = score_emails(rows, naive_extractor(engine))
    results[f"emails_{key}"] = {"answer_email": ours.to_json(), "naive": naive.to_json()}
    print("\n".join(email_report(f"{title} ({path.name})", ours, naive)))
    if failures and ours.failures:
        print("\n".join(f"    miss: {f}" for f in ours.failures))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes for the latency runs")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--failures",
        nargs="?",
        const=",".join(ALL_SETS),
        default="",
        metavar="SETS",
        help="list every miss (of these comma-separated sets only, when given)",
    )
    parser.add_argument(
        "--sets",
        default=",".join(ALL_SETS),
        help=f"comma-separated sets to score (default: all of {','.join(ALL_SETS)})",
    )
    args = parser.parse_args()
    sets = {name.strip() for name in args.sets.split(",") if name.strip()}
    listed = {name.strip() for name in args.failures.split(",") if name.strip()}
    unknown = (sets | listed) - set(ALL_SETS)
    if unknown:
        parser.error(f"unknown sets: {', '.join(sorted(unknown))}")

    sys.path.insert(0, str(ROOT))
    from bot.faq import FaqEngine
    from bot.settings import Settings
    from bot.staff.email_eval import load_jsonl
    from bot.staff.nlp import full_pipeline
    from bot.staff.suggest import answer_email, faq_suggestions

    settings = Settings()
    engine = FaqEngine.load(settings)
    nlp = full_pipeline(settings.faq_spacy_model)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results: dict[str, Any] = {"cores": cores, "encoder": engine.encoder.name}
    print(f"Staff suggestions on {cores} cores, engine encoder {engine.encoder.name}")
    print()

    # Warm up the encoder, spaCy and the caches before anything is timed or scored.
    for text in ["how long does shipping take", "Hi,\n\nCan I return it?\n\nThanks,\nAnna"]:
        faq_suggestions(engine, text)
        answer_email(engine, nlp, text)

    messages: list[str] = []
    if "messages" in sets:
        messages = report_messages(engine, results, "messages" in listed)
        print()
    email_rows: list[dict[str, Any]] = []
    for key, title, path in EMAIL_SETS:
        if key in sets:
            email_rows += report_emails(engine, nlp, key, title, path, results, key in listed)
            print()

    print(f"Latency ({args.rounds} rounds, after warm-up)")
    latency: dict[str, Any] = {}
    if not messages:
        dev = load_jsonl(DATA / "faq_dev.jsonl")
        messages = [r["query"] for r in dev]
        print("  (messages: tests/data/faq_dev.jsonl, the held-out messages were not read)")
    sugg = timed(lambda m: faq_suggestions(engine, m), messages, args.rounds)
    bare = timed(engine.search, messages, args.rounds)
    print(row("faq_suggestions, one message", sugg, "target p50 <= 30 ms"))
    print(row("baseline: bare FaqEngine.search", bare))
    latency["faq_suggestions_ms"] = {"p50": pct(sugg, 50), "p95": pct(sugg, 95)}
    latency["engine_search_ms"] = {"p50": pct(bare, 50), "p95": pct(bare, 95)}
    five = [r["email"] for r in email_rows if len(r["questions"]) == 5]
    if five:
        ms = timed(lambda e: answer_email(engine, nlp, e), five, args.rounds)
        print(row("answer_email, e-mails with 5 questions", ms, "target p50 <= 150 ms"))
        latency["answer_email_5q_ms"] = {"p50": pct(ms, 50), "p95": pct(ms, 95), "n": len(five)}
    else:
        print("  answer_email: no e-mail read has exactly 5 annotated questions")
    if email_rows:
        ms = timed(lambda r: answer_email(engine, nlp, r["email"]), email_rows, args.rounds)
        print(row("answer_email, all e-mails read", ms))
        latency["answer_email_all_ms"] = {"p50": pct(ms, 50), "p95": pct(ms, 95)}
    big = ("Hi,\n\nHow long does shipping take? I ordered a ring last week. " * 2000)[:100_000]
    ms = timed(lambda e: answer_email(engine, nlp, e), [big], 1)
    print(row("answer_email, one 100 KB e-mail (20,000 read)", ms))
    latency["answer_email_100kb_ms"] = ms[0]
    results["latency"] = latency

    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
