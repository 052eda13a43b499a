"""`bot staff ...` (accounts) and `bot suggest` (answers for an e-mail)."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from typing import Annotated, Any

import typer

from bot.settings import Settings

staff_app = typer.Typer(help="Staff accounts of the console.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _accounts() -> Any:
    from bot.staff.accounts import StaffAccounts

    return StaffAccounts(Settings().database_url)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; the newline is not part of the password.
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (10+ characters): ")
    if getpass.getpass("Again: ") != first:
        raise _fail("the two passwords differ; nothing was changed")
    return first


@staff_app.command()
def add(
    email: Annotated[str, typer.Argument(help="The agent's e-mail address (their login).")],
    name: Annotated[
        str | None, typer.Option(help="Full name; shoppers see the first name.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a staff account (asks for the password unless --password-stdin)."""
    from bot.staff.accounts import AccountError

    password = _read_password(password_stdin)
    try:
        user = _accounts().add(email, name or "", password)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    print(f"added {user.email} ({user.name}); the console is at /staff on the gateway")


@staff_app.command(name="list")
def list_() -> None:
    """Every staff account, with its state and last login."""
    users = _accounts().all()
    if not users:
        print("no staff accounts yet: add one with `bot staff add EMAIL --name NAME`")
    for user in users:
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        state = "disabled" if user.disabled else "active"
        print(f"{user.email:<40} {user.name:<30} {state:<9} last login: {last}")


@staff_app.command()
def disable(email: Annotated[str, typer.Argument(help="The account's e-mail address.")]) -> None:
    """Disable an account and end its open sessions at once."""
    from bot.staff.accounts import AccountError

    try:
        user = _accounts().disable(email)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    print(f"disabled {user.email}; its sessions are closed")


@staff_app.command()
def unlock(email: Annotated[str, typer.Argument(help="The address that is locked out.")]) -> None:
    """Lift a lock-out after too many wrong passwords (e.g. after someone else's guesses)."""
    _accounts().unlock(email)
    print(f"{email.strip().lower()} may log in again")


def suggest(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (see README).")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Sign the draft with this name.")] = None,
) -> None:
    """Answers for one customer e-mail read from standard input: its questions, up to 3 FAQ
    answers each, the order's facts if it names one, and a draft reply."""
    from bot.faq import CorpusError, FaqEngine
    from bot.shopper.order_backend import OrderClient
    from bot.staff import suggest as suggestions
    from bot.staff.console import describe_order
    from bot.staff.nlp import full_pipeline

    settings = Settings()
    with open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False) as stdin:
        text = stdin.read()
    try:
        engine = FaqEngine.load(settings)
    except (CorpusError, RuntimeError) as exc:
        raise _fail(str(exc), 2) from None
    result: dict[str, Any] = suggestions.answer_email(
        engine, full_pipeline(settings.faq_spacy_model), text, agent_name=name
    )
    number = suggestions.email_order_number(text)
    client = OrderClient(settings, staff=True)
    result["order"] = asyncio.run(describe_order(client, number, "bot-suggest"))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    _print_human(result)


def _print_human(result: dict[str, Any]) -> None:
    questions = result["questions"]
    if not questions:
        print("(no question found in this e-mail)")
    for i, q in enumerate(questions, 1):
        mark = "" if q.get("answered") else "   (the FAQ does not answer this)"
        print(f"{i}. {q['text']}{mark}")
        for s in q["suggestions"]:
            print(f"     {s['score']:.2f}  [{s['faq_id']}] {s['question']}")
    order = result.get("order")
    if order:
        if "error" in order:
            print(f"\norder {order['order_number']}: {order['error']}")
        else:
            print(f"\norder {order['order_number']}: {order['status']}")
    print("\n--- draft reply ---\n" + result["draft"])
