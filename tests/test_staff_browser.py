"""The staff console and the widget in a real headless Chromium, two browser contexts (a
shopper on the storefront, agents on the console) against the whole live assistant."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db import get_engine
from bot.gateway.transcripts import chat_messages
from bot.rasa_auth import rasa_auth_headers
from bot.settings import PROJECT_ROOT
from bot.staff.accounts import StaffAccounts

from .staff_helpers import EMAIL, PASSWORD

pytestmark = pytest.mark.slow

STAFF = PROJECT_ROOT / "widget" / "staff"


def test_console_files_are_small_and_never_parse_html() -> None:
    files = sorted(p for p in STAFF.iterdir() if p.suffix in (".js", ".css", ".html"))
    assert {"login.html", "console.html", "email.html", "insights.html"} <= {p.name for p in files}
    assert len(gzip.compress(b"".join(p.read_bytes() for p in files), 9)) <= 60 * 1024
    for path in files:
        text = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (path.name, sink)
        if path.suffix == ".html":
            # The pages' CSP forbids inline code and styles; nothing loads from elsewhere.
            assert "<style" not in text and " style=" not in text and "onclick" not in text
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path.name


# --- browser fixtures ----------------------------------------------------------------------
class Pages:
    """Browser contexts opened by one test; any page error or CSP violation fails it."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser, self.base = browser, base
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def new(self, path: str) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(30_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.goto(self.base + path)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, live_gateway: Any) -> Iterator[Pages]:
    opened = Pages(browser, live_gateway.url)
    yield opened
    opened.close()
    assert opened.errors == []


_counter = iter(range(10_000))


@pytest.fixture
def agents(live_gateway: Any) -> tuple[Any, Any]:
    accounts = StaffAccounts(live_gateway.settings.database_url)
    n = next(_counter)
    return (
        accounts.add(f"sophie{n}@kntofficial.com", "Sophie Martin", PASSWORD),
        accounts.add(f"marc{n}@kntofficial.com", "Marc Dubois", PASSWORD),
    )


# --- helpers -------------------------------------------------------------------------------
def log_in(pages: Pages, agent: Any) -> Any:
    page = pages.new("/staff")
    page.wait_for_url(re.compile(r"/staff/login"))
    page.locator("#email").fill(agent.email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login").click()
    page.wait_for_url(re.compile(r"/staff$"))
    page.locator(".agents-online").wait_for()
    return page


def open_shop(pages: Pages) -> Any:
    page = pages.new("/")
    page.locator(".knt-launcher").click()
    page.locator(".knt-panel").wait_for(state="visible")
    return page


def reopen(shop: Any) -> None:
    """After a reload the widget reopens by itself when it was open; else open it."""
    shop.locator(".knt-launcher").wait_for()
    if shop.locator(".knt-panel").is_hidden():
        shop.locator(".knt-launcher").click()
    shop.locator(".knt-panel").wait_for(state="visible")


def shopper_says(shop: Any, text: str) -> None:
    shop.locator(".knt-input").fill(text)
    shop.locator(".knt-input").press("Enter")
    shop.locator(".knt-shopper:not(.knt-sending) .knt-bubble", has_text=text).last.wait_for()


def ask_for_a_person(shop: Any) -> None:
    shop.locator(".knt-human").click()
    shop.locator(".knt-system", has_text="A person from our team will take over").wait_for()


def conversation_of(shop: Any, live_gateway: Any) -> str:
    from bot.gateway.transcripts import TranscriptStore

    session_id = shop.evaluate("() => localStorage.getItem('knt-chat:token')").split(".")[1]
    return TranscriptStore(live_gateway.settings.database_url).current(session_id).id


def user_turns(live_gateway: Any, conversation_id: str) -> list[str]:
    r = httpx.get(
        f"{live_gateway.settings.rasa_url}/conversations/{conversation_id}/tracker",
        headers=rasa_auth_headers(live_gateway.settings),
        timeout=10,
    )
    r.raise_for_status()
    return [e.get("text") for e in r.json()["events"] if e["event"] == "user"]


def claim_from_queue(console: Any, conversation_id: str) -> None:
    item = console.locator(f'.queue-item[data-id="{conversation_id}"]')
    item.wait_for()
    item.click()
    console.locator("#claim").click()
    console.locator("#release").wait_for(state="visible")


# --- tests -----------------------------------------------------------------------------------
def test_a_shopper_and_an_agent_talk_live_and_rasa_hears_nothing(
    pages: Pages, agents: Any, live_gateway: Any
) -> None:
    sophie, marc = agents
    console = log_in(pages, sophie)
    shop = open_shop(pages)
    ask_for_a_person(shop)
    conversation_id = conversation_of(shop, live_gateway)

    item = console.locator(f'.queue-item[data-id="{conversation_id}"]')
    item.wait_for()  # arrived in the queue live, with its reason
    assert "Asked for a person" in item.locator(".queue-reason").inner_text()
    claim_from_queue(console, conversation_id)
    shop.locator(".knt-system", has_text="Sophie from our team has joined").wait_for()
    assert "Sophie" in shop.locator(".knt-sub").inner_text()
    turns_at_claim = user_turns(live_gateway, conversation_id)

    # shopper -> agent, with the typing indicator on the console
    shop.locator(".knt-input").press_sequentially("my ring is too tig", delay=40)
    console.locator(".typing-shopper").wait_for(state="visible")
    shop.locator(".knt-input").press_sequentially("ht", delay=40)
    shop.locator(".knt-input").press("Enter")
    console.locator(".msg-shopper .msg-text", has_text="my ring is too tight").wait_for()

    # agent -> shopper, with "Sophie is typing" in the widget
    console.locator("#reply").press_sequentially("Sorry to hear that! Which size", delay=30)
    shop.locator(".knt-typing-name", has_text="Sophie is typing").wait_for(state="visible")
    console.locator("#reply").press_sequentially(" is it now?", delay=10)
    console.locator("#reply").press("Enter")
    reply = shop.locator(".knt-agent .knt-bubble", has_text="Which size is it now?")
    reply.wait_for()
    assert "Sophie" in shop.locator(".knt-agent .knt-author").last.inner_text()
    assert user_turns(live_gateway, conversation_id) == turns_at_claim  # Rasa heard nothing

    # A second agent's claim is refused and says who has it.
    other = log_in(pages, marc)
    other.goto(f"{live_gateway.url}/staff#c={conversation_id}")
    other.locator(".transcript .msg-text", has_text="my ring is too tight").wait_for()
    other.locator("#claim").click()
    other.locator(
        ".action-error", has_text="Sophie Martin already has this conversation"
    ).wait_for()

    # A reload on either side keeps everything.
    shop.reload()
    reopen(shop)
    shop.locator(".knt-agent .knt-bubble", has_text="Which size is it now?").wait_for()
    assert "Sophie" in shop.locator(".knt-sub").inner_text()
    console.reload()
    console.locator(".msg-agent .msg-text", has_text="Which size is it now?").wait_for()
    console.locator("#release").wait_for(state="visible")

    # Hand back: the bot answers the next question.
    console.locator("#release").click()
    shop.locator(".knt-system", has_text="handed you back").wait_for()
    shopper_says(shop, "how long does shipping take?")
    shop.locator(".knt-bot .knt-bubble", has_text="week").last.wait_for()
    assert "how long does shipping take?" in user_turns(live_gateway, conversation_id)


def test_a_suggestion_goes_into_the_reply_box_and_is_recorded_when_sent(
    pages: Pages, agents: Any, live_gateway: Any
) -> None:
    sophie, _ = agents
    console = log_in(pages, sophie)
    shop = open_shop(pages)
    ask_for_a_person(shop)
    conversation_id = conversation_of(shop, live_gateway)
    claim_from_queue(console, conversation_id)
    shopper_says(shop, "can I pay for the ring with Klarna?")
    card = console.locator(".suggestion", has_text="Klarna").first
    card.wait_for()
    assert re.search(r"\d+\s*%", card.locator(".suggestion-score").inner_text())
    assert card.locator(".suggestion-question").inner_text().strip()
    card.locator("button.use").click()
    reply = console.locator("#reply")
    assert "Klarna" in reply.input_value()
    # Nothing was sent: the shopper sees no agent message yet.
    assert shop.locator(".knt-agent").count() == 0
    reply.press("End")
    reply.press_sequentially(" Happy to help!")
    console.locator("#send").click()
    shop.locator(".knt-agent .knt-bubble", has_text="Happy to help!").wait_for()
    with get_engine(live_gateway.settings.database_url).connect() as conn:
        row = conn.execute(
            select(chat_messages.c.suggestion_use, chat_messages.c.suggestion_source)
            .where(
                chat_messages.c.conversation_id == conversation_id,
                chat_messages.c.role == "agent",
            )
            .order_by(chat_messages.c.id.desc())
        ).first()
    assert row is not None and row.suggestion_use == "edited"
    assert row.suggestion_source == "payments_bnpl"


def test_nobody_online_the_shopper_leaves_an_email_and_it_survives_a_reload(
    pages: Pages, live_gateway: Any
) -> None:
    shop = open_shop(pages)
    ask_for_a_person(shop)
    shop.locator(".knt-system", has_text="Nobody from our team is free").wait_for()
    form = shop.locator(".knt-contact")
    form.wait_for(state="visible")
    shop.locator(".knt-contact-input").fill("dana@example.com")
    shop.locator(".knt-contact-send").click()
    shop.locator(".knt-system", has_text="we'll reply to dana@example.com").wait_for()
    form.wait_for(state="hidden")
    shopper_says(shop, "and do you ship to Canada?")  # the bot still answers meanwhile
    shop.locator(".knt-bot .knt-bubble").last.wait_for()
    shop.reload()
    reopen(shop)
    shop.locator(".knt-system", has_text="we'll reply to dana@example.com").wait_for()
    assert shop.locator(".knt-contact").is_hidden()


def test_the_email_page_finds_the_questions_and_drafts_a_reply(pages: Pages, agents: Any) -> None:
    sophie, _ = agents
    console = log_in(pages, sophie)
    console.locator("nav a", has_text="E-mail").click()
    console.wait_for_url(re.compile(r"/staff/email$"))
    console.locator("#email-text").fill(EMAIL)
    console.locator("#analyse").click()
    console.locator(".email-question").nth(2).wait_for()
    assert console.locator(".email-question").count() == 3
    console.locator(".order-facts", has_text="KNT-1002").wait_for()
    draft = console.locator("#draft").input_value()
    assert draft.startswith("Hello Dana,") and "Sophie" in draft
    assert "Could you send us your order number" not in draft


def test_insights_draw_charts_and_group_unanswered_questions(pages: Pages, agents: Any) -> None:
    sophie, _ = agents
    shop = open_shop(pages)
    for question in ("do you sell gift cards?", "can I buy a gift card for my sister?"):
        shopper_says(shop, question)
        shop.locator(".knt-bot .knt-bubble", has_text="don't know").last.wait_for()
    console = log_in(pages, sophie)
    console.goto(console.url.replace("/staff", "/staff/insights"))
    console.locator('svg.chart[data-chart="per-day"]').wait_for()
    assert console.locator('svg.chart[data-chart="handoffs-by-reason"]').count() == 1
    group = console.locator(".unanswered-group", has_text="gift card").first
    group.wait_for()
    assert group.locator("button.copy-yaml").count() == 1
