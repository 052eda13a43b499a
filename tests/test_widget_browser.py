"""The chat widget in a real headless Chromium, on the demo storefront, against the whole
assistant (gateway -> Rasa -> action server -> order backend).

Playwright's CSS locators pierce open shadow roots, so `.knt-...` selectors reach inside
the widget's Shadow DOM. Each test gets its own browser context: a fresh localStorage,
so a new shopper and a new conversation.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

WIDGET = PROJECT_ROOT / "widget"
HOTPINK = "rgb(255, 105, 180)"


def corpus_answer(entry_id: str) -> str:
    for path in sorted((PROJECT_ROOT / "faq_corpus").glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
            if entry["id"] == entry_id:
                return str(entry["answer"])
    raise KeyError(entry_id)


# --- the files themselves (no browser needed) --------------------------------------------
def test_widget_is_small_and_never_parses_html() -> None:
    js = (WIDGET / "widget.js").read_bytes()
    css = (WIDGET / "widget.css").read_bytes()
    assert len(gzip.compress(js + css, 9)) <= 30 * 1024
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js.decode(), sink
    page = (WIDGET / "storefront.html").read_text(encoding="utf-8")
    assert '<script src="/widget.js" defer></script>' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no external resources"


# --- browser fixtures ----------------------------------------------------------------------
@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture
def shop(context: Any, live_gateway: Any) -> Iterator[Any]:
    """The storefront, with any uncaught page error failing the test."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_gateway.url}/?hostile")  # with the page's hostile CSS on
    yield page
    assert errors == []


# --- helpers -------------------------------------------------------------------------------
def open_chat(page: Any) -> None:
    page.locator(".knt-launcher").click()
    page.locator(".knt-panel").wait_for(state="visible")


def say(page: Any, text: str) -> None:
    """Type and send with Enter; wait until the server stored the message."""
    page.locator(".knt-input").fill(text)
    page.locator(".knt-input").press("Enter")
    page.locator(".knt-shopper:not(.knt-sending) .knt-bubble", has_text=text).last.wait_for()


def bot_says(page: Any, phrase: str) -> Any:
    bubble = page.locator(".knt-bot .knt-bubble", has_text=phrase).last
    bubble.wait_for()
    return bubble


def in_widget(page: Any, script: str) -> Any:
    """Evaluate `script` with `root` = the widget's shadow root."""
    return page.evaluate(
        f"() => {{ const root = document.querySelector('knt-chat').shadowRoot; {script} }}"
    )


def focused(page: Any) -> str:
    """Class of the focused element inside the widget ('' when focus is elsewhere)."""
    return page.evaluate(
        """() => {
          const host = document.activeElement;
          if (!host || host.tagName !== 'KNT-CHAT') return '';
          const el = host.shadowRoot.activeElement;
          return el ? (el.id || el.className) : '';
        }"""
    )


# --- the shopper's side --------------------------------------------------------------------
def test_policy_question_gets_the_store_answer_and_host_css_stays_out(shop: Any) -> None:
    launcher = shop.locator(".knt-launcher")
    assert launcher.get_attribute("aria-expanded") == "false"
    open_chat(shop)
    assert launcher.get_attribute("aria-expanded") == "true"
    assert focused(shop) == "knt-input"  # focus moves to the input on open

    say(shop, "how long does it take to make and ship a ring?")
    answer = corpus_answer("shipping_production_time")
    bubble = bot_says(shop, "3 to 5 weeks to complete")
    assert bubble.text_content() == answer
    # a short local time under each message
    assert re.fullmatch(r"\d{1,2}:\d{2}( [AP]M)?", shop.locator(".knt-time").last.text_content())

    # the storefront's hostile CSS (hotpink buttons, red div borders, serif everywhere,
    # `[role=dialog] {display: none !important}`) does not reach inside the Shadow DOM
    assert shop.locator(".knt-log").is_visible()
    styles = in_widget(
        shop,
        """const cs = (sel) => getComputedStyle(root.querySelector(sel));
           return {launcher: cs('.knt-launcher').backgroundColor,
                   send: cs('.knt-send').backgroundColor,
                   body: cs('.knt-body').borderTopWidth,
                   font: cs('.knt-bubble').fontFamily};""",
    )
    assert styles["launcher"] != HOTPINK and styles["send"] != HOTPINK
    assert styles["body"] == "0px"
    assert "Georgia" not in styles["font"]
    # the page's own button did get the hostile rule: the test would notice if it stopped
    buy = "getComputedStyle(document.querySelector('.buy')).backgroundColor"
    assert shop.evaluate(buy) == HOTPINK


def test_quick_reply_sends_its_title_and_starts_the_flow(shop: Any) -> None:
    open_chat(shop)
    say(shop, "how many days do i have to return or exchange?")
    bot_says(shop, "within 30 days from the shipping confirmation date")
    reply = shop.locator(".knt-qr-btn", has_text="Start a return")
    reply.click()
    shop.locator(".knt-shopper:not(.knt-sending) .knt-bubble", has_text="Start a return").wait_for()
    bot_says(shop, "order number")
    # quick replies of earlier turns are gone once the shopper answered
    assert shop.locator(".knt-qr-btn", has_text="Start a return").count() == 0


def test_reload_shows_the_history_with_its_feedback(shop: Any) -> None:
    open_chat(shop)
    say(shop, "do you ship with fedex or ups")
    bot_says(shop, "3 to 5 weeks")
    up = shop.locator(".knt-bot .knt-fb-up").last
    up.click()
    # aria-pressed is the stored state: it turns true when the gateway says feedback_saved
    shop.locator(".knt-bot .knt-fb-up[aria-pressed=true]").wait_for()
    count = shop.locator(".knt-msg").count()

    shop.reload()
    shop.locator(".knt-shopper .knt-bubble", has_text="do you ship with fedex or ups").wait_for()
    assert shop.locator(".knt-panel").is_visible()  # stays open across pages of the shop
    assert shop.locator(".knt-msg").count() == count
    assert shop.locator(".knt-bot .knt-fb-up").last.get_attribute("aria-pressed") == "true"
    assert shop.evaluate("localStorage.getItem('knt-chat:token')")


def test_a_long_conversation_loads_its_older_messages_on_request(
    shop: Any, live_gateway: Any
) -> None:
    """The gateway sends the last GATEWAY_HISTORY_MESSAGES (50); older ones come when the
    shopper asks, above what is shown, without losing the reader's place."""
    from bot.gateway.tokens import TokenSigner
    from bot.gateway.transcripts import TranscriptStore

    open_chat(shop)
    say(shop, "do you ship with fedex or ups")
    bot_says(shop, "3 to 5 weeks")
    settings = live_gateway.settings
    token = shop.evaluate("localStorage.getItem('knt-chat:token')")
    session = TokenSigner(settings.gateway_secret.get_secret_value(), 3600).verify(token)
    store = TranscriptStore(settings.database_url)
    conversation = store.current(session.session_id)
    for n in range(60):
        store.add_shopper(conversation, f"older-{n}", f"note {n}", f"note {n}", status="answered")
    shop.reload()
    more = shop.locator(".knt-more")
    more.wait_for(state="visible")
    shop.locator(".knt-shopper .knt-bubble", has_text="note 59").wait_for()
    assert shop.locator(".knt-msg").count() == settings.gateway_history_messages
    more.click()
    shop.locator(".knt-shopper .knt-bubble", has_text="do you ship with fedex or ups").wait_for()
    assert shop.locator(".knt-msg").count() == 62  # all of them, once each
    assert more.is_hidden()
    texts = shop.locator(".knt-shopper .knt-bubble").all_inner_texts()
    assert texts[0] == "do you ship with fedex or ups" and texts[-1] == "note 59"


def test_keyboard_only(shop: Any) -> None:
    for _ in range(60):  # Tab through the storefront until the launcher has the focus
        shop.keyboard.press("Tab")
        if focused(shop) == "knt-launcher":
            break
    else:
        pytest.fail("the launcher is not reachable with Tab")
    shop.keyboard.press("Enter")
    shop.locator(".knt-panel").wait_for(state="visible")
    assert focused(shop) == "knt-input"

    shop.keyboard.type("where is my order?")
    shop.keyboard.press("Enter")
    bot_says(shop, "order number")

    shop.keyboard.type("first line")
    shop.keyboard.press("Shift+Enter")
    shop.keyboard.type("second line")
    assert shop.locator(".knt-input").input_value() == "first line\nsecond line"
    assert shop.locator(".knt-shopper").count() == 1  # Shift+Enter did not send

    # every control of the panel is reachable: Shift+Tab back to the header
    names = set()
    for _ in range(20):
        shop.keyboard.press("Shift+Tab")
        name = focused(shop)
        names.add(name)
        if "knt-restart" in name:
            break
    assert {"knt-hbtn knt-close", "knt-hbtn knt-restart"} <= names
    assert any("knt-fb" in n for n in names)  # the thumbs of the answer

    shop.keyboard.press("Escape")
    shop.locator(".knt-panel").wait_for(state="hidden")
    assert focused(shop) == "knt-launcher"
    assert shop.locator(".knt-launcher").get_attribute("aria-expanded") == "false"


def test_phone_panel_covers_the_viewport(browser: Any, live_gateway: Any) -> None:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = ctx.new_page()
        page.goto(live_gateway.url)
        box = page.locator(".knt-launcher").bounding_box()
        assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        page.locator(".knt-launcher").tap()
        panel = page.locator(".knt-panel")
        panel.wait_for(state="visible")
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        page.locator(".knt-close").tap()
        panel.wait_for(state="hidden")
        assert page.locator(".knt-launcher").is_visible()
    finally:
        ctx.close()


def test_offline_messages_wait_in_the_outbox_across_a_reload(context: Any, shop: Any) -> None:
    network = {"up": False}

    def gateway_socket(ws: Any) -> None:  # the gateway is unreachable while network is down
        if network["up"]:
            ws.connect_to_server()
        else:
            ws.close()

    context.route_web_socket(re.compile(r"/ws$"), gateway_socket)
    shop.reload()
    open_chat(shop)
    shop.locator(".knt-status", has_text="reconnecting").wait_for()
    shop.locator(".knt-input").fill("sent while offline")
    shop.locator(".knt-input").press("Enter")
    shop.locator(".knt-sending .knt-bubble", has_text="sent while offline").wait_for()
    shop.locator(".knt-input").fill("typed, not sent yet")
    outbox = shop.evaluate("JSON.parse(localStorage.getItem('knt-chat:outbox'))")
    assert [m["text"] for m in outbox] == ["sent while offline"]

    shop.reload()  # nothing is lost: the outbox and the draft come back
    shop.locator(".knt-sending .knt-bubble", has_text="sent while offline").wait_for()
    assert shop.locator(".knt-input").input_value() == "typed, not sent yet"

    network["up"] = True  # back online: the widget reconnects and sends it, same id
    shop.locator(
        ".knt-shopper:not(.knt-sending) .knt-bubble", has_text="sent while offline"
    ).wait_for()
    bot_says(shop, "")
    assert shop.locator(".knt-status").is_hidden()
    assert shop.evaluate("localStorage.getItem('knt-chat:outbox')") is None
    assert shop.locator(".knt-shopper").count() == 1


XSS = '<img src=x onerror="window.__xss=1">'


def test_markup_typed_by_the_shopper_is_shown_as_text(shop: Any) -> None:
    open_chat(shop)
    say(shop, XSS)
    shop.locator(".knt-bot .knt-bubble").last.wait_for()  # the round trip is over
    assert shop.locator(".knt-shopper .knt-bubble").last.text_content() == XSS
    assert shop.locator("knt-chat img").count() == 0
    assert shop.evaluate("typeof window.__xss") == "undefined"


def test_markup_echoed_by_the_bot_is_shown_as_text(
    shop: Any, changeable_order: tuple[str, str]
) -> None:
    number, email = changeable_order
    payload = '<img src=x onerror="window.__xss=2">'
    open_chat(shop)
    say(shop, f"I'd like to change my order {number}")
    bot_says(shop, "e-mail")
    say(shop, email)
    bot_says(shop, "What would you like to change")
    say(shop, "the metal colour")
    bot_says(shop, "Which metal colour")
    say(shop, payload)
    echo = bot_says(shop, "isn't in our catalogue")
    assert echo.text_content().startswith(f'Sorry, "{payload}" isn\'t in our catalogue.')
    assert shop.locator("knt-chat img").count() == 0
    assert shop.evaluate("typeof window.__xss") == "undefined"


def test_unread_badge_counts_answers_that_arrive_while_closed(
    context: Any, live_gateway: Any
) -> None:
    first = context.new_page()
    first.goto(live_gateway.url)
    open_chat(first)
    first.keyboard.press("Escape")
    badge = first.locator(".knt-badge")
    assert badge.is_hidden()
    # A second tab of the same shopper (same localStorage, so the same session) asks.
    second = context.new_page()
    second.goto(live_gateway.url)
    open_chat(second)
    say(second, "what payment methods do you accept?")
    bot_says(second, "")
    first.bring_to_front()
    badge.wait_for(state="visible")
    assert int(badge.text_content()) >= 1
    assert "unread" in first.locator(".knt-launcher").get_attribute("aria-label")
    open_chat(first)
    assert badge.is_hidden()
    # the first tab shows the same conversation, the shopper's message once
    first.locator(".knt-shopper .knt-bubble", has_text="what payment methods").wait_for()
    assert first.locator(".knt-shopper").count() == 1


def test_talk_to_a_person_hands_off_and_survives_a_reload(shop: Any) -> None:
    open_chat(shop)
    shop.locator(".knt-human").click()
    shop.locator(
        ".knt-shopper:not(.knt-sending) .knt-bubble", has_text="Talk to a person"
    ).wait_for()
    shop.locator(".knt-system", has_text="A person from our team will take over").wait_for()
    assert shop.locator(".knt-human").is_hidden()
    shop.reload()
    shop.locator(".knt-system", has_text="A person from our team will take over").wait_for()
    assert shop.locator(".knt-human").is_hidden()


def test_start_over_asks_first_then_clears_the_conversation(shop: Any) -> None:
    open_chat(shop)
    say(shop, "hello")
    bot_says(shop, "")
    shop.locator(".knt-restart").click()
    shop.locator(".knt-confirm-no").click()  # changed my mind
    assert shop.locator(".knt-msg").count() >= 2
    shop.locator(".knt-restart").click()
    shop.locator(".knt-confirm-yes").click()
    shop.locator(".knt-msg").first.wait_for(state="detached")
    shop.reload()
    shop.locator(".knt-root[data-state=online]").wait_for(state="attached")  # session frame in
    assert shop.locator(".knt-panel").is_visible()
    assert shop.locator(".knt-msg").count() == 0
