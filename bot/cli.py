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
nlu_app = typer.Typer(help="Rasa training data.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")
rasa_app = typer.Typer(help="The Rasa model.", no_args_is_help=True)
app.add_typer(rasa_app, name="rasa")
orders_app = typer.Typer(help="The order backend.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


def _register_staff_commands() -> None:
    from bot.staff.cli import staff_app, suggest

    app.add_typer(staff_app, name="staff")
    app.command()(suggest)


_register_staff_commands()

NLU_FILE = PROJECT_ROOT / "data" / "nlu.yml"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


DEV_SET = PROJECT_ROOT / "tests" / "data" / "faq_dev.jsonl"
FRESH_SET = PROJECT_ROOT / "tests" / "data" / "faq_fresh.jsonl"


def _corpus(settings: Settings):  # type: ignore[no-untyped-def]
    """The validated corpus, or exit 1 with the message that says what to fix."""
    from bot.faq.corpus import CorpusError, load_corpus

    try:
        return load_corpus(settings.faq_corpus_dir)
    except CorpusError as exc:
        raise _fail(str(exc)) from None


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
def unanswered(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
) -> None:
    """Questions the bot could not answer: material for new FAQ entries."""
    from bot.faq.unanswered import UnansweredLog

    rows = UnansweredLog(Settings().database_url).recent(limit)
    if not rows:
        print("no unanswered questions recorded")
    for row in rows:
        closest = f"{row.closest_faq_id} {row.closest_score:.2f}" if row.closest_faq_id else "-"
        print(
            f"{row.created_at:%Y-%m-%d %H:%M}  [{row.intent or '-'}]  {row.question!r}  "
            f"(closest: {closest})"
        )


@faq_app.command()
def check(
    strict: Annotated[bool, typer.Option(help="Fail on near-duplicates too.")] = False,
) -> None:
    """Validate the corpus and list near-duplicate paraphrases across entries."""
    from bot.faq.check import near_duplicates, thin_entries

    settings = Settings()
    corpus = _corpus(settings)
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
    from bot.faq.encoder import BASE_MODEL, resolve_model_dir
    from bot.faq.finetune import TrainConfig, finetune, trained_on

    settings = Settings()
    corpus = _corpus(settings)
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


@nlu_app.command()
def sync(
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report whether data/nlu.yml is in sync.")
    ] = False,
) -> None:
    """Regenerate the faq/out_of_scope intents, lookups and synonyms in data/nlu.yml."""
    from bot.nlu_sync import MARKER, is_in_sync, synced_text

    corpus = _corpus(Settings())
    if not NLU_FILE.is_file() or MARKER not in NLU_FILE.read_text(encoding="utf-8"):
        raise _fail(f"{NLU_FILE} must exist and contain the line:\n{MARKER}")
    if check_only:
        if not is_in_sync(NLU_FILE, corpus):
            raise _fail("data/nlu.yml is out of sync with faq_corpus/: run `bot nlu sync`")
        print("data/nlu.yml is in sync with faq_corpus/")
        return
    NLU_FILE.write_text(synced_text(NLU_FILE, corpus), encoding="utf-8")
    print(f"data/nlu.yml: generated part rewritten from {len(corpus)} FAQ entries")


@rasa_app.command(name="train")
def rasa_train(
    force: Annotated[bool, typer.Option(help="Retrain even if the model is current.")] = False,
) -> None:
    """Train the Rasa model unless one for the current config/domain/data exists."""
    from bot.rasa_model import train as train_model

    settings = Settings()
    started = time.perf_counter()
    try:
        path, trained = train_model(settings.rasa_model_dir, force=force)
    except RuntimeError as exc:
        raise _fail(str(exc)) from None
    if trained:
        print(f"trained {path} in {time.perf_counter() - started:.0f} s")
    else:
        print(f"Rasa model up to date: {path}")


@orders_app.command(name="seed")
def orders_seed() -> None:
    """Create the demo orders (KNT-1001..1005, dates relative to today) in an empty database."""
    from bot.orders.runner import seed_command

    raise typer.Exit(seed_command(Settings()))


@orders_app.command(name="serve")
def orders_serve() -> None:
    """Run the order backend (migrates its database first)."""
    from bot.orders.runner import serve

    serve(Settings())


@orders_app.command(name="migrate")
def orders_migrate() -> None:
    """Bring the order database to the latest schema (Alembic)."""
    from bot.orders.db import migrate

    migrate(Settings().orders_database_url)
    print("order database migrated to the latest revision")


@app.command()
def run(
    chat: Annotated[
        bool, typer.Option(help="Also chat with the assistant in this terminal.")
    ] = False,
    log_dir: Annotated[
        Path, typer.Option(help="Where each process's log goes (<name>.log).")
    ] = PROJECT_ROOT / ".data" / "logs",
    state_file: Annotated[
        Path, typer.Option(help="Where the processes' state is kept (read by /healthz).")
    ] = PROJECT_ROOT / ".data" / "supervisor.json",
) -> None:
    """Start the order backend, action server, Rasa and the gateway, restart any that
    dies; Ctrl-C (or SIGTERM, SIGHUP) stops them all."""
    from bot import stack
    from bot.rasa_model import model_path
    from bot.supervisor import StartupError

    settings = Settings()
    model = model_path(settings.rasa_model_dir)
    if not model.is_file():
        raise _fail(f"no Rasa model for the current data ({model.name}): run `make train`")
    # With the terminal chat, the processes' output would be in the way: only to the logs.
    with stack.supervisor(settings, log_dir, state_file, echo=not chat) as sup:
        try:
            sup.start(stack.everything(settings, model))
        except StartupError as exc:
            raise _fail(str(exc)) from None
        gateway = f"http://{settings.gateway_host}:{settings.gateway_port}"
        print(
            "\nThe KNT assistant is running:\n"
            f"  demo storefront with the chat widget  {gateway}/\n"
            f"  widget script (one tag embeds it)     {gateway}/widget.js\n"
            f"  staff console (suggested replies)     {gateway}/staff\n"
            f"  health / Prometheus metrics           {gateway}/healthz  {gateway}/metrics\n"
            f"  Rasa REST channel                     {settings.rasa_url}/webhooks/rest/webhook\n"
            f"  order backend                         {settings.orders_url}\n"
            f"  logs                                  {log_dir}\n",
            flush=True,
        )
        if not _staff_accounts_exist(settings):
            print(
                "No staff account yet: add one for the console with\n"
                "  ENVIRONMENT=local .venv/bin/bot staff add you@example.com --name 'Your Name'\n"
            )
        if chat:
            _chat_loop(settings)
        else:
            print("Ctrl-C stops everything.", flush=True)
            sup.wait()
    if sup.failure:
        raise _fail(sup.failure)


def _staff_accounts_exist(settings: Settings) -> bool:
    from bot.staff.accounts import StaffAccounts

    return bool(StaffAccounts(settings.database_url).all())


@app.command()
def chat() -> None:
    """Talk to a running Rasa server over its REST channel."""
    _chat_loop(Settings())


def _chat_loop(settings: Settings) -> None:
    import uuid

    import httpx

    sender = f"cli-{uuid.uuid4().hex[:8]}"
    url = f"{settings.rasa_url}/webhooks/rest/webhook"
    buttons: list[dict[str, str]] = []
    print("Chat with the assistant (Ctrl-D quits). Type a button's number to press it.")
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not text:
            continue
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = httpx.post(url, json={"sender": sender, "message": text}, timeout=30).json()
        except httpx.HTTPError as exc:
            print(f"(cannot reach Rasa at {url}: {exc})")
            continue
        buttons = []
        for reply in replies:
            if "text" in reply:
                print(f"bot> {reply['text']}")
            for button in reply.get("buttons") or []:
                buttons.append(button)
                print(f"     [{len(buttons)}] {button['title']}")
            if "custom" in reply:
                print(f"     (custom: {json.dumps(reply['custom'])})")


def main() -> None:
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as exc:
        # Settings that can't be used (e.g. ENVIRONMENT unset with the development secrets):
        # the message says what to change; a traceback would only hide it.
        raise SystemExit(f"bot: {_settings_problem(exc)}") from None


def _settings_problem(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e.get("msg", e)) for e in errors())
    return str(exc)


if __name__ == "__main__":
    main()
