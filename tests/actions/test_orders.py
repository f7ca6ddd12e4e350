"""The order forms and actions, with real trackers: a customer sees and changes only orders shown to be theirs.

Demo orders (data/demo/orders.yml): 12345 (shipped) and 45678 (delivered) are Maria's (shop-1001, postcode
94110), 23456 (processing) is Tom's (shop-1002, SW1A 1AA), 56789 (refunded) is Lena's (shop-1003).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import jsonschema
import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import orders
from actions.handoff_request import schema
from actions.order_access import MemoryProofGuard, RedisProofGuard, proof_matches
from actions.order_service import DemoOrderService, normalise_order_number
from tests.actions.conftest import tracker
from tests.conftest import ROOT

MARIA = {"channel": "web", "customer_external_id": "shop-1001"}
TOM = {"channel": "web", "customer_external_id": "shop-1002"}
SECRETS = ("on its way", "JD014600003828", "Merino", "DHL", "processing", "Ceramic", "prepared", "119.00")


@pytest.fixture(autouse=True)
def fresh_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)  # the count in process (test_proof_guards: in Redis)
    orders.order_service.cache_clear()
    orders.proof_guard.cache_clear()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(action: Any, t: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    return dispatcher.messages, asyncio.run(action.run(dispatcher, t, {}))


def says_nothing_about_orders(messages: list[dict[str, Any]]) -> bool:
    text = json.dumps([{k: v for k, v in m.items() if k != "custom"} for m in messages])
    return not any(secret in text for secret in SECRETS)


def answering_proof(text: str, number: str, *, slots: dict[str, Any] | None = None) -> Any:
    """The customer's answer to "e-mail or postcode of order <number>?" (the form asked for ``order_proof``)."""
    history = [{"event": "slot", "name": "order_number", "value": number},
               {"event": "slot", "name": "requested_slot", "value": "order_proof"}]
    return tracker(text, [("inform", 0.9)], history=history,
                   slots={"order_number": number, "requested_slot": "order_proof", **(slots or {})})


def proof(answer: str, t: Any, form: Any = None, dispatcher: CollectingDispatcher | None = None) -> dict[str, Any]:
    validator = form or orders.ValidateOrderStatusForm()
    return dict(asyncio.run(validator.validate_order_proof(answer, dispatcher or CollectingDispatcher(), t, {})))


def prove(number: str, answer: str, form: Any = None) -> dict[str, Any]:
    return proof(answer, answering_proof(answer, number), form)


@pytest.mark.parametrize(("text", "number"), [("12345", "12345"), ("#4409812", "4409812"),
                                              ("it's order no. 23456 thanks", "23456"), ("1234", None),
                                              ("123456789", None), (None, None)])
def test_order_numbers_are_normalised(text: str | None, number: str | None) -> None:
    assert normalise_order_number(text) == number


# ---- a customer the shop signed in ----------------------------------------------------------------------------

def test_a_signed_in_customers_own_order_needs_no_proof() -> None:
    dispatcher = CollectingDispatcher()
    result = orders.ValidateOrderStatusForm().validate_order_number(
        "#12345", dispatcher, tracker("#12345", [("inform", 0.9)], metadata=MARIA), {})
    assert result == {"order_number": "12345", "order_proof": "shown", "order_attempts": 0.0}
    assert dispatcher.messages == []
    messages, events = run(orders.ActionReportOrderStatus(), tracker(
        "where is my order 12345", [("order_status", 0.97)], slots={"order_number": "12345"}, metadata=MARIA))
    assert [m["response"] for m in messages] == ["utter_order_status", "utter_tracking"]
    assert messages[0]["status_text"] == "on its way"
    assert messages[1]["tracking_number"] == "JD014600003828"
    assert events == []


def test_another_customers_order_is_refused_without_a_word_about_it() -> None:
    validator = orders.ValidateTrackingForm()
    dispatcher = CollectingDispatcher()
    theirs = validator.validate_order_number("23456", dispatcher, tracker("23456", [("inform", 0.9)], metadata=MARIA), {})
    unknown = validator.validate_order_number("99999", dispatcher, tracker("99999", [("inform", 0.9)], metadata=MARIA,
                                                                           slots={"order_attempts": 1.0}), {})
    assert theirs == {"order_number": None, "order_attempts": 1.0}
    assert unknown == {"order_number": None, "order_attempts": 2.0}
    # someone else's order and one that does not exist get the same answer
    assert [(m["response"], m["order_number"]) for m in dispatcher.messages] == [
        ("utter_order_not_in_account", "23456"), ("utter_order_not_in_account", "99999")]
    assert says_nothing_about_orders(dispatcher.messages)
    malformed = validator.validate_order_number("no idea", dispatcher, tracker("no idea", [("deny", 0.6)],
                                                metadata=MARIA, slots={"order_attempts": 2.0}), {})
    assert dispatcher.messages[-1]["response"] == "utter_order_number_invalid"
    assert malformed == {"order_number": None, "order_attempts": 3.0, "requested_slot": None}


def test_the_actions_check_the_owner_again() -> None:
    """Even with another customer's number in the slot (set however), the actions neither tell nor change."""
    t = tracker("yes", [("affirm", 0.99)], slots={"order_number": "23456"}, metadata=MARIA)
    for action in (orders.ActionReportOrderStatus(), orders.ActionReportTracking(), orders.ActionOfferCancel(),
                   orders.ActionCancelOrder(), orders.ActionReportRefund()):
        messages, events = run(action, t)
        assert messages[0]["response"] == "utter_order_lookup_failed", action.name()
        assert says_nothing_about_orders(messages)
        assert SlotSet("handoff_requested", True) in events
    assert orders.order_service().get("23456").status == "processing"  # not cancelled
    returned, _ = run(orders.ActionSubmitReturn(), tracker("x", [("inform", 0.8)], metadata=TOM, slots={
        "order_number": "45678", "return_item": "duvet", "return_reason": "colour"}))
    assert returned[0]["response"] == "utter_order_lookup_failed"
    assert orders.order_service().get("45678").status == "delivered"


# ---- an anonymous visitor -------------------------------------------------------------------------------------

def test_an_anonymous_visitor_is_asked_for_proof_whether_or_not_the_order_exists() -> None:
    validator = orders.ValidateOrderStatusForm()
    for number in ("12345", "99999"):
        dispatcher = CollectingDispatcher()
        result = validator.validate_order_number(number, dispatcher, tracker(number, [("inform", 0.9)]), {})
        assert result == {"order_number": number, "order_proof": None}  # the form asks for the proof next
        assert dispatcher.messages == []
    messages, _ = run(orders.ActionReportOrderStatus(), tracker("where is 12345", [("order_status", 0.9)],
                                                                slots={"order_number": "12345"}))
    assert messages[0]["response"] == "utter_order_lookup_failed" and says_nothing_about_orders(messages)


@pytest.mark.parametrize("answer", ["94110", "maria.jensen@example.com", "It's Maria.Jensen@Example.COM"])
def test_the_right_proof_shows_the_order(answer: str) -> None:
    assert prove("12345", answer) == {"order_proof": "shown", "order_verified": "12345", "order_attempts": 0.0}
    messages, _ = run(orders.ActionReportOrderStatus(), tracker(answer, [("inform", 0.9)], slots={
        "order_number": "12345", "order_proof": "shown", "order_verified": "12345"}))
    assert messages[0]["response"] == "utter_order_status" and messages[0]["status_text"] == "on its way"


def test_a_postcode_read_as_an_order_number_is_the_proof_not_a_new_order() -> None:
    t = answering_proof("94110", "12345")
    assert orders.ValidateOrderStatusForm().validate_order_number("94110", CollectingDispatcher(), t, {}) == {
        "order_number": "12345"}


@pytest.mark.parametrize("answer", ["10115", "tom.okafor@example.com", "94110 10115 SW1A1AA", "94110, 10115",
                                    "maria.jensen@example.com lena.vogel@example.com", "", "shown"])
def test_a_wrong_proof_is_refused_without_detail(answer: str) -> None:
    dispatcher = CollectingDispatcher()
    result = proof(answer, answering_proof(answer, "12345"), dispatcher=dispatcher)
    assert result == {"order_proof": None, "order_attempts": 1.0}
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_proof_mismatch"]
    assert says_nothing_about_orders(dispatcher.messages)


def test_a_proof_for_an_order_that_does_not_exist_is_refused_alike() -> None:
    dispatcher = CollectingDispatcher()
    result = proof("94110", answering_proof("94110", "99999"), dispatcher=dispatcher)
    assert result == {"order_proof": None, "order_attempts": 1.0}
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_proof_mismatch"]


def test_three_wrong_proofs_end_the_form_and_hand_off() -> None:
    result = proof("00000", answering_proof("00000", "12345", slots={"order_attempts": 2.0}))
    assert result == {"order_proof": None, "order_attempts": 3.0, "requested_slot": None}
    messages, events = run(orders.ActionReportOrderStatus(), tracker("00000", [("inform", 0.9)], slots={
        "order_number": "12345", "order_attempts": 3.0}))
    assert messages[0]["response"] == "utter_order_lookup_failed"
    request = messages[1]["custom"]["handoff"]
    jsonschema.validate(request, schema())
    assert request["reasons"][0] == {"code": "order_lookup_failed",
                                     "detail": "The customer could not show that order 12345 is theirs.",
                                     "figures": {"attempts": 3}}
    assert SlotSet("handoff_requested", True) in events


def test_a_proof_left_from_an_earlier_order_is_asked_again_not_counted() -> None:
    t = tracker("where is 23456", [("order_status", 0.9)],
                slots={"order_number": "23456", "order_proof": "shown", "order_verified": "12345"})
    dispatcher = CollectingDispatcher()
    assert proof("shown", t, dispatcher=dispatcher) == {"order_proof": None}
    assert dispatcher.messages == []


def test_a_cancellation_needs_a_shown_owner() -> None:
    anonymous = tracker("yes", [("affirm", 0.99)], slots={"order_number": "23456"})
    refused, _ = run(orders.ActionCancelOrder(), anonymous)
    assert refused[0]["response"] == "utter_order_lookup_failed"
    assert orders.order_service().get("23456").status == "processing"
    assert prove("23456", "sw1a 1aa", orders.ValidateCancelForm())["order_verified"] == "23456"
    proven = tracker("yes", [("affirm", 0.99)], slots={"order_number": "23456", "order_verified": "23456"})
    offered, _ = run(orders.ActionOfferCancel(), proven)
    assert offered[0]["response"] == "utter_confirm_cancel"
    done, _ = run(orders.ActionCancelOrder(), proven)
    assert done[0]["response"] == "utter_order_cancelled"
    again, _ = run(orders.ActionOfferCancel(), proven)
    assert again[0]["response"] == "utter_cancel_too_late"


# ---- proof guessing across conversations -------------------------------------------------------------------

def test_wrong_proofs_from_many_conversations_lock_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A script opening conversation after conversation cannot run through postcodes."""
    monkeypatch.setenv("ACTIONS_PROOF_ATTEMPTS", "5")
    for guess in ("10001", "10002", "10003", "10004", "10005"):  # five conversations, one guess each
        assert prove("23456", guess)["order_proof"] is None
    locked = prove("23456", "SW1A 1AA")  # the right one, now refused: the form ends
    assert locked == {"order_proof": None, "requested_slot": None}
    messages, _ = run(orders.ActionReportOrderStatus(), tracker("SW1A 1AA", [("inform", 0.9)],
                                                                slots={"order_number": "23456"}))
    assert messages[0]["response"] == "utter_order_lookup_failed" and says_nothing_about_orders(messages)
    assert "Too many wrong" in messages[1]["custom"]["handoff"]["reasons"][0]["detail"]
    assert prove("12345", "94110")["order_verified"] == "12345"  # other orders are not affected
    signed, _ = run(orders.ActionReportOrderStatus(), tracker("status", [("order_status", 0.9)], metadata=TOM,
                                                              slots={"order_number": "23456"}))
    assert signed[0]["response"] == "utter_order_status"  # the signed-in owner needs no proof


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_proof_guards_lock_an_order_for_the_window(kind: str) -> None:
    """Both guards hold to one contract; the Redis one is shared by every action server on that Redis."""
    clock = FakeClock()
    url = "redis://127.0.0.1:6379/14"
    number, other = f"9{uuid.uuid4().int % 10**7:07d}", f"8{uuid.uuid4().int % 10**7:07d}"
    guards: list[Any] = ([MemoryProofGuard(3, 600, clock)] if kind == "memory" else
                         [RedisProofGuard(url, 3, 600, clock), RedisProofGuard(url, 3, 600, clock)])
    try:
        for turn in range(3):
            await guards[turn % len(guards)].failed(number)  # with Redis: two action servers, one count
            clock.now += 100
        assert all([await guard.locked(number) for guard in guards])
        assert not await guards[0].locked(other)
        clock.now += 301  # the first failure leaves the window
        assert not await guards[-1].locked(number)
        await guards[0].failed(number)
        assert await guards[-1].locked(number)
    finally:
        for guard in guards:
            if isinstance(guard, RedisProofGuard):
                await guard.close()


async def test_without_redis_the_redis_guard_refuses_proofs() -> None:
    guard = RedisProofGuard("redis://127.0.0.1:1/0", 3, 600)  # nothing listens on port 1
    try:
        assert await guard.locked("12345")  # fails closed: the customer is handed to a person
        await guard.failed("12345")  # and a failure to count is no crash
    finally:
        await guard.close()


def test_with_redis_url_the_action_server_counts_in_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/14")
    orders.proof_guard.cache_clear()
    assert isinstance(orders.proof_guard(), RedisProofGuard)
    orders.proof_guard.cache_clear()


def test_proofs_compare_one_address_or_the_whole_postcode() -> None:
    order = orders.order_service().get("23456")
    assert order is not None
    assert proof_matches(order, "SW1A-1AA") and proof_matches(order, " sw1a 1aa ")
    assert proof_matches(order, "my email is TOM.OKAFOR@example.com")
    assert not proof_matches(order, "SW1A 1AA or 94110") and not proof_matches(order, "SW1A")


# ---- the rest of the order tasks, for an owner ----------------------------------------------------------------

def test_without_a_valid_order_the_conversation_is_handed_off() -> None:
    messages, events = run(orders.ActionReportTracking(), tracker("00000", [("inform", 0.9)],
                                                                  slots={"order_attempts": 3.0}))
    assert messages[0]["response"] == "utter_order_lookup_failed"
    jsonschema.validate(messages[1]["custom"]["handoff"], schema())
    assert messages[1]["custom"]["handoff"]["reasons"][0] == {
        "code": "order_lookup_failed", "detail": "The customer could not give a valid order number.",
        "figures": {"attempts": 3}}
    assert SlotSet("handoff_requested", True) in events


def test_a_shipped_order_cannot_be_cancelled() -> None:
    messages, _ = run(orders.ActionOfferCancel(), tracker("cancel", [("cancel_order", 0.9)], metadata=MARIA,
                                                          slots={"order_number": "12345"}))
    assert messages[0]["response"] == "utter_cancel_too_late"


def test_a_return_is_registered_for_a_delivered_order_only() -> None:
    slots = {"order_number": "45678", "return_item": "Linen duvet cover", "return_reason": "wrong colour"}
    messages, events = run(orders.ActionSubmitReturn(), tracker("wrong colour", [("inform", 0.8)], slots=slots,
                                                                metadata=MARIA))
    assert messages[0]["response"] == "utter_return_created"
    assert messages[0]["return_id"] == "R-45678-1"
    assert SlotSet("return_item", None) in events
    refused, _ = run(orders.ActionSubmitReturn(), tracker("x", [("inform", 0.8)], metadata=MARIA,
                                                          slots={**slots, "order_number": "12345"}))
    assert refused[0]["response"] == "utter_return_not_eligible"
    assert "on its way" in refused[0]["why"]


def test_refund_status_reports_the_refund() -> None:
    messages, _ = run(orders.ActionReportRefund(), tracker("refund?", [("refund_status", 0.9)], slots={
        "order_number": "56789", "order_verified": "56789"}))
    assert "119.00 USD" in messages[0]["refund_text"] and "Visa ending 4242" in messages[0]["refund_text"]


def test_the_demo_store_never_rewrites_its_source() -> None:
    source = ROOT / "data/demo/orders.yml"
    before = source.read_text()
    service = DemoOrderService(source)
    service.cancel("23456")
    assert source.read_text() == before
    assert service.get("45678") is not None and service.get("45678").customer_id == "shop-1001"
