"""The order flows take what shoppers type (issue 11): details in the first message, slots
given once and not asked again, free answers to the forms' questions, and an explanation
of the choices when an answer leaves them open. REST channel -> Rasa -> action server ->
the real order backend. Anything submitted is on an order of the test's own (the demo
orders are shared by the session); on a demo order the answer is "no"."""

from __future__ import annotations

import re

import pytest

from bot.catalogue import ring_size_range

from .actions_helpers import new_order
from .live import new_sender, texts

pytestmark = pytest.mark.slow

ASKS_NUMBER = "What's your order number?"
ASKS_EMAIL = "And the e-mail address you used for the order?"
ASKS_KIND = "return it for a refund, or exchange"
ASKS_REASON = "What's the reason?"


def test_order_number_and_email_in_the_first_message_give_the_status(live):
    s = new_sender()
    status = texts(live.say(s, "where is KNT-1001, ava@example.com"))
    assert "KNT-1001" in status and "being crafted" in status
    assert ASKS_NUMBER not in status and ASKS_EMAIL not in status


def test_an_email_given_before_the_request_is_not_asked_again(live):
    s = new_sender()
    live.say(s, "hi, my email is ben@example.com")
    asked = texts(live.say(s, "where is my order?"))
    assert ASKS_NUMBER in asked and ASKS_EMAIL not in asked
    assert "FedEx" in texts(live.say(s, "KNT-1002"))


@pytest.mark.parametrize("before", [None, "where is KNT-1001, ava@example.com"])
def test_what_the_request_said_is_not_asked_again(live, before):
    s = new_sender()
    if before:  # another order verified first: the new request's own words still count
        assert "being crafted" in texts(live.say(s, before))
    live.say(s, "I'd like to exchange my ring from order KNT-1002, it's too big")
    # Kind and reason came with the request: straight from the e-mail to the size.
    asked = texts(live.say(s, "ben@example.com"))
    # The size question words the catalogue's sizes and the ring's own (KNT-1002's is 7).
    assert f"Which ring size would you like instead (now: 7)? US sizes {ring_size_range()}" in asked
    assert ASKS_KIND not in asked and ASKS_REASON not in asked
    summary = texts(live.say(s, "5.5"))
    assert "To confirm: exchange" in summary and "for size 5.5" in summary
    assert '"it\'s too big"' in summary
    assert "haven't submitted anything" in texts(live.say(s, "nope, keep it"))


def test_the_change_named_with_the_request_is_not_asked_again(live):
    number, email = new_order(live.settings)
    s = new_sender()
    live.say(s, f"I'd like to change the metal on order {number}")
    asked = texts(live.say(s, email))
    assert "Which metal colour would you like" in asked
    assert "What would you like to change" not in asked
    s2 = new_sender()
    live.say(s2, f"please change my ring size to 7, order {number}")
    summary = texts(live.say(s2, email))
    assert "To confirm: change the ring size" in summary and "from 6 to 7" in summary


def test_its_too_big_is_an_exchange_for_another_size_confirmed_with_the_shopper(live):
    number, email = new_order(live.settings, status="shipped")
    s = new_sender()
    live.say(s, f"I want to send back the ring from order {number}")
    assert ASKS_KIND in texts(live.say(s, email))
    taken = texts(live.say(s, "it's too big"))
    assert "An exchange for another size" in taken
    assert "Which ring size would you like instead (now: 6)?" in taken
    assert ASKS_REASON not in taken  # "it's too big" is the reason too
    summary = texts(live.say(s, "half a size smaller"))  # from the ring's size 6
    assert "To confirm: exchange" in summary and "for size 5.5" in summary
    assert '"it\'s too big"' in summary and "Shall I submit it?" in summary
    done = texts(live.say(s, "sure, go ahead"))
    assert re.search(r"RMA-\w+", done) and "exchange" in done


def test_an_unclear_answer_gets_the_choices_explained_not_the_same_sentence(live):
    s = new_sender()
    live.say(s, "I want to return my ring, order KNT-1002")
    assert ASKS_KIND in texts(live.say(s, "ben@example.com"))
    first = texts(live.say(s, "not sure"))
    second = texts(live.say(s, "hmm, it's broken"))
    for reply in (first, second):
        assert "a return sends the item back to us for a refund" in reply
        assert "an exchange sends it back and you get it in another ring size" in reply
        assert 'Please say "return" or "exchange"' not in reply
    assert ASKS_REASON in texts(live.say(s, "I want my money back"))
    assert "To confirm: return" in texts(live.say(s, "the stone is chipped"))
    unclear = texts(live.say(s, "yes but smaller"))  # a yes with a condition is no yes
    assert "I'm not sure that was a yes or a no" in unclear
    assert 'Say "yes"' in unclear and "RMA-" not in unclear
    assert "haven't submitted anything" in texts(live.say(s, "no thanks"))


def test_an_unclear_change_gets_the_three_choices_explained(live):
    number, email = new_order(live.settings)
    s = new_sender()
    live.say(s, f"I want to make a change to order {number}")
    assert "What would you like to change" in texts(live.say(s, email))
    explained = texts(live.say(s, "not sure"))
    assert "gemstone" in explained and "metal colour" in explained and "ring size" in explained
    assert "Which ring size" in texts(live.say(s, "it's too tight"))


@pytest.mark.parametrize("yes", ["yeah", "sure, go ahead"])
def test_yes_in_the_shoppers_words_cancels(live, yes):
    number, email = new_order(live.settings)
    s = new_sender()
    live.say(s, f"please cancel order {number}")
    assert f"To confirm: cancel order {number}" in texts(live.say(s, email))
    done = texts(live.say(s, yes))
    assert f"{number} is cancelled" in done and re.search(r"CXL-\w+", done)


def test_nope_keep_it_keeps_the_order(live):
    number, email = new_order(live.settings)
    s = new_sender()
    live.say(s, f"cancel my order {number}")
    live.say(s, email)
    assert "haven't submitted anything" in texts(live.say(s, "nope, keep it"))
    # Still in production: a status check says so.
    s2 = new_sender()
    assert "being crafted" in texts(live.say(s2, f"where is {number}, {email}"))


@pytest.mark.parametrize("yes", ["yeah", "yes please"])
def test_yes_to_the_offer_of_a_person_hands_off(live, yes):
    s = new_sender()
    assert "don't know" in texts(live.say(s, "do you sell gift cards?"))
    assert "take over" in texts(live.say(s, "can you engrave initials inside the band?"))
    handed = live.say(s, yes)
    assert handed[-1].get("custom") == {"handoff": {"reason": "faq_unanswered"}}
    assert "passing you to a person" in texts(handed)


def test_no_to_the_offer_of_a_person_keeps_the_bot(live):
    s = new_sender()
    live.say(s, "do you sell gift cards?")
    assert "take over" in texts(live.say(s, "can you engrave initials inside the band?"))
    kept = live.say(s, "nope")
    assert not any(r.get("custom") for r in kept)
    # A bare "yeah" later, with no offer before it, hands nothing off.
    later = live.say(s, "yeah")
    assert not any(r.get("custom") for r in later)
