from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import orders
from actions.handoff_request import schema
from actions.order_service import DemoOrderService, normalise_order_number
from tests.actions.conftest import tracker
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fresh_orders() -> None:
    orders.order_service.cache_clear()


def run(action: Any, t: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    return dispatcher.messages, asyncio.run(action.run(dispatcher, t, {}))


@pytest.mark.parametrize(("text", "number"), [("12345", "12345"), ("#4409812", "4409812"),
                                              ("it's order no. 23456 thanks", "23456"), ("1234", None),
                                              ("123456789", None), (None, None)])
def test_order_numbers_are_normalised(text: str | None, number: str | None) -> None:
    assert normalise_order_number(text) == number


def test_a_known_order_number_is_accepted() -> None:
    dispatcher = CollectingDispatcher()
    result = orders.ValidateOrderStatusForm().validate_order_number(
        "#12345", dispatcher, tracker("#12345", [("inform", 0.9)]), {})
    assert result == {"order_number": "12345", "order_attempts": 0.0}
    assert dispatcher.messages == []


def test_unknown_and_malformed_numbers_are_refused_then_the_form_ends() -> None:
    validator = orders.ValidateTrackingForm()
    dispatcher = CollectingDispatcher()
    first = validator.validate_order_number("99999", dispatcher, tracker("99999", [("inform", 0.9)]), {})
    assert first == {"order_number": None, "order_attempts": 1.0}
    assert dispatcher.messages[-1]["response"] == "utter_order_not_found"
    second = validator.validate_order_number("no idea", dispatcher, tracker("no idea", [("deny", 0.6)],
                                             slots={"order_attempts": 1.0}), {})
    assert dispatcher.messages[-1]["response"] == "utter_order_number_invalid"
    assert second == {"order_number": None, "order_attempts": 2.0}
    third = validator.validate_order_number("00000", dispatcher, tracker("00000", [("inform", 0.9)],
                                            slots={"order_attempts": 2.0}), {})
    assert third == {"order_number": None, "order_attempts": 3.0, "requested_slot": None}


def test_order_status_reports_status_and_tracking() -> None:
    messages, events = run(orders.ActionReportOrderStatus(),
                           tracker("where is my order 12345", [("order_status", 0.97)], slots={"order_number": "12345"}))
    assert [m["response"] for m in messages] == ["utter_order_status", "utter_tracking"]
    assert messages[0]["status_text"] == "on its way"
    assert messages[1]["tracking_number"] == "JD014600003828"
    assert events == []


def test_without_a_valid_order_the_conversation_is_handed_off() -> None:
    messages, events = run(orders.ActionReportTracking(), tracker("00000", [("inform", 0.9)],
                                                                  slots={"order_attempts": 3.0}))
    assert messages[0]["response"] == "utter_order_lookup_failed"
    jsonschema.validate(messages[1]["custom"]["handoff"], schema())
    assert messages[1]["custom"]["handoff"]["reasons"][0] == {
        "code": "order_lookup_failed", "detail": "The customer could not give a valid order number.",
        "figures": {"attempts": 3}}
    assert SlotSet("handoff_requested", True) in events


def test_cancelling_an_unpacked_order_asks_then_cancels() -> None:
    t = tracker("yes", [("affirm", 0.99)], slots={"order_number": "23456"})
    offered, _ = run(orders.ActionOfferCancel(), t)
    assert offered[0]["response"] == "utter_confirm_cancel"
    done, _ = run(orders.ActionCancelOrder(), t)
    assert done[0]["response"] == "utter_order_cancelled"
    again, _ = run(orders.ActionOfferCancel(), t)
    assert again[0]["response"] == "utter_cancel_too_late"


def test_a_shipped_order_cannot_be_cancelled() -> None:
    messages, _ = run(orders.ActionOfferCancel(), tracker("cancel", [("cancel_order", 0.9)],
                                                          slots={"order_number": "12345"}))
    assert messages[0]["response"] == "utter_cancel_too_late"


def test_a_return_is_registered_for_a_delivered_order_only() -> None:
    slots = {"order_number": "45678", "return_item": "Linen duvet cover", "return_reason": "wrong colour"}
    messages, events = run(orders.ActionSubmitReturn(), tracker("wrong colour", [("inform", 0.8)], slots=slots))
    assert messages[0]["response"] == "utter_return_created"
    assert messages[0]["return_id"] == "R-45678-1"
    assert SlotSet("return_item", None) in events
    refused, _ = run(orders.ActionSubmitReturn(), tracker("x", [("inform", 0.8)], slots={**slots, "order_number": "12345"}))
    assert refused[0]["response"] == "utter_return_not_eligible"
    assert "on its way" in refused[0]["why"]


def test_refund_status_reports_the_refund() -> None:
    messages, _ = run(orders.ActionReportRefund(), tracker("refund?", [("refund_status", 0.9)],
                                                           slots={"order_number": "56789"}))
    assert "119.00 USD" in messages[0]["refund_text"] and "Visa ending 4242" in messages[0]["refund_text"]


def test_the_demo_store_never_rewrites_its_source() -> None:
    source = ROOT / "data/demo/orders.yml"
    before = source.read_text()
    service = DemoOrderService(source)
    service.cancel("23456")
    assert source.read_text() == before
