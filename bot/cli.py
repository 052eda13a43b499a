"""The `bot` command: FAQ tools now; services join as they land."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from bot.settings import PROJECT_ROOT, Settings

app = typer.Typer(help="KNT support assistant tools.", no_args_is_help=True, add_completion=False)
faq_app = typer.Typer(help="The FAQ corpus and retrieval engine.", no_args_is_help=True)
app.add_typer(faq_app, name="faq")

DEV_SET = PROJECT_ROOT / "tests" / "data" / "faq_dev.jsonl"
FRESH_SET = PROJECT_ROOT / "tests" / "data" / "faq_fresh.jsonl"


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.faq import CorpusError, FaqEngine

    try:
        return FaqEngine.load(settings)
    except (CorpusError, RuntimeError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@faq_app.command()
def search(
    question: Annotated[str | None, typer.Argument(help="The shopper's question.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per answer (see README).")
    ] = False,
) -> None:
    """Answer one question, or with --json and no question, every line of standard input."""
    engine = _engine(Settings())
    if question is not None:
        result = engine.search(question)
        if as_json:
            print(json.dumps(result.to_json(), ensure_ascii=False))
            return
        if result.error:
            typer.secho(f"error: {result.error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        if result.entry is None:
            alts = ", ".join(f"{c.faq_id} {c.score:.3f}" for c in result.alternatives)
            print(f"(abstains: no FAQ answer is close enough; best score {result.score:.3f})")
            print(f"closest: {alts}")
            return
        print(f"[{result.entry.id}] score {result.score:.3f}")
        print(f"Q: {result.entry.question}")
        print(f"A: {result.entry.answer}")
        return
    if not as_json:
        typer.secho(
            "error: give a question, or use --json to read questions from standard input",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    # Read bytes and decode leniently: one bad byte must not end the whole stream.
    with open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False) as stdin:
        for line in stdin:
            result = engine.search(line.rstrip("\r\n"))
            sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()


@faq_app.command()
def ask() -> None:
    """Interactive prompt: type a question, get the FAQ answer (Ctrl-D to quit)."""
    settings = Settings()
    engine = _engine(settings)
    print("KNT FAQ: ask a question about orders, payments, shipping or returns (Ctrl-D quits).")
    while True:
        try:
            question = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not question.strip():
            continue
        result = engine.search(question)
        if result.entry is None:
            print(
                f"bot> Sorry, I don't know the answer to that. You can write to "
                f"{settings.support_email} and a person will help you."
            )
        else:
            print(f"bot> {result.entry.answer}")
            if result.entry.follow_up:
                print(f"     [{result.entry.follow_up.title}]")


@faq_app.command()
def check(
    strict: Annotated[bool, typer.Option(help="Fail on near-duplicates too.")] = False,
) -> None:
    """Validate the corpus and list near-duplicate paraphrases across entries."""
    from bot.faq.check import near_duplicates, thin_entries
    from bot.faq.corpus import CorpusError, load_corpus

    settings = Settings()
    try:
        corpus = load_corpus(settings.faq_corpus_dir)
    except CorpusError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    n_para = sum(len(e.paraphrases) for e in corpus.entries)
    n_oos = sum(len(t.examples) for t in corpus.out_of_scope)
    print(
        f"corpus OK: {len(corpus)} entries, {n_para} paraphrases, "
        f"{n_oos} out-of-scope examples ({settings.faq_corpus_dir})"
    )
    problems = 0
    for entry in thin_entries(corpus):
        print(f"warning: {entry.id} has only {len(entry.paraphrases)} paraphrases (want 10+)")
        problems += 1
    dups = near_duplicates(corpus)
    for d in dups:
        pair = f"{d.a_id}: {d.a_text!r} <-> {d.b_id}: {d.b_text!r}"
        print(f"near-duplicate ({d.similarity:.2f}): {pair}")
    problems += len(dups)
    if not dups:
        print("no near-duplicate paraphrases across entries")
    if strict and problems:
        raise typer.Exit(1)


@faq_app.command(name="eval")
def evaluate(
    dev: Annotated[Path, typer.Option(help="Dev set with tune/test splits.")] = DEV_SET,
    fresh: Annotated[Path, typer.Option(help="Extra held-out set (all test).")] = FRESH_SET,
) -> None:
    """Held-out accuracy of the engine and of two baselines, tuned on the tune split."""
    from bot.faq.evaluate import format_report, load_dev, run

    engine = _engine(Settings())
    questions = load_dev(dev, engine.corpus)
    extra = load_dev(fresh, engine.corpus, default_split="fresh") if fresh.is_file() else []
    started = time.perf_counter()
    results, _params = run(engine, questions + extra, Settings().faq_cache_dir)
    print(format_report(results))
    print(f"\n({time.perf_counter() - started:.1f} s; engine model: {engine.encoder.name})")


@faq_app.command()
def train(
    force: Annotated[bool, typer.Option(help="Retrain even if the corpus did not change.")] = False,
    epochs: Annotated[int, typer.Option(min=1, max=20)] = 2,
) -> None:
    """Fine-tune the encoder on the corpus (skipped when it is up to date), then warm the caches."""
    from bot.faq.corpus import CorpusError, load_corpus
    from bot.faq.encoder import BASE_MODEL, resolve_model_dir
    from bot.faq.finetune import TrainConfig, finetune, trained_on

    settings = Settings()
    try:
        corpus = load_corpus(settings.faq_corpus_dir)
    except CorpusError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if settings.faq_model == BASE_MODEL:
        print("FAQ_MODEL=base: nothing to fine-tune")
    else:
        target = Path(settings.faq_model)
        cfg = TrainConfig(epochs=epochs)
        if not force and trained_on(target) == (corpus.fingerprint, cfg):
            print(f"encoder up to date: {target} (corpus {corpus.fingerprint})")
        else:
            print(f"fine-tuning all-MiniLM-L6-v2 on {len(corpus)} entries -> {target} ...")
            seconds = finetune(corpus, resolve_model_dir(BASE_MODEL), target, cfg)
            print(f"done in {seconds:.0f} s")
    started = time.perf_counter()
    _engine(settings)
    print(f"engine caches ready ({time.perf_counter() - started:.1f} s)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
