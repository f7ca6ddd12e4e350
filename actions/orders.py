"""Order look-up, tracking, refunds, cancellation and returns.

Each task is a form that collects a valid order number and shows the order is the customer's (and, for
returns, the item and the reason), then an action that reports or acts. A customer the shop signed in
(``actions/order_access.py``) gets their own orders at once and any other number refused without a word about
that order; an anonymous visitor is asked for the order's e-mail address or postcode (``order_proof``) before
anything is said about it, and every action checks ownership again before it reports, cancels or returns.
After ``ACTIONS_MAX_ORDER_ATTEMPTS`` failures (a malformed or refused number, a wrong proof) the form ends and
the conversation is handed off, because a person can find the order by other means.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.escalation import Decision, Reason
from actions.handoff import hand_off
from actions.order_access import VERIFIED_SLOT, ProofGuard, owns, proof_guard_for, proof_matches, verified_customer
from actions.order_service import DemoOrderService, Order, OrderService, normalise_order_number
from actions.settings import ActionSettings
from actions.signals import HUMAN_INTENT

logger = logging.getLogger(__name__)
ATTEMPTS_SLOT = "order_attempts"
PROOF_SLOT = "order_proof"
SHOWN = "shown"  # the value of order_proof once ownership is shown (the proof itself is never kept)


@cache
def order_service() -> OrderService:
    """The order system for this process (the demo store's unless configured otherwise)."""
    return DemoOrderService(ActionSettings.from_env().orders_file)


@cache
def proof_guard() -> ProofGuard:
    """Wrong proofs per order number, across conversations (in Redis with ``REDIS_URL``, else in process)."""
    return proof_guard_for(ActionSettings.from_env(), os.environ.get("REDIS_URL") or None)


def _intent(tracker: Tracker) -> str | None:
    name = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return str(name) if name else None


def _before_this_turn(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the customer's latest message (what this turn's extraction replaced)."""
    latest_user = max((i for i, event in enumerate(tracker.events) if event.get("event") == "user"), default=0)
    return next((event.get("value") for event in reversed(tracker.events[:latest_user])
                 if event.get("event") == "slot" and event.get("name") == slot), None)


def _answering_proof(tracker: Tracker) -> bool:
    return bool(tracker.get_slot("requested_slot") == PROOF_SLOT)


class OrderNumberValidation:
    """Validates ``order_number`` and ``order_proof`` for every order form (a mixin: rasa-sdk registers every
    Action subclass)."""

    FORM = ""

    def name(self) -> str:
        return f"validate_{self.FORM}"

    def _failed(self, tracker: Tracker, extra: dict[str, Any]) -> dict[str, Any]:
        """Count one failure in this conversation; at the limit the form ends (the action hands off)."""
        attempts = int(tracker.get_slot(ATTEMPTS_SLOT) or 0) + 1
        ended = {"requested_slot": None} if attempts >= ActionSettings.from_env().max_order_attempts else {}
        return {**extra, ATTEMPTS_SLOT: float(attempts), **ended}

    def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        if _intent(tracker) == HUMAN_INTENT:
            return {"order_number": None, "requested_slot": None}
        if _answering_proof(tracker) and _before_this_turn(tracker, "order_number"):
            # the answer to "e-mail or postcode?" read as an order number (a 5-digit postcode): it is the proof
            return {"order_number": _before_this_turn(tracker, "order_number")}
        number = normalise_order_number(value)
        if not number:
            dispatcher.utter_message(response="utter_order_number_invalid", value=str(value)[:40])
            return self._failed(tracker, {"order_number": None})
        customer = verified_customer(tracker)
        if customer is None:  # anonymous: whether the order exists is not said before the proof
            proven = tracker.get_slot(VERIFIED_SLOT) == number
            return {"order_number": number, PROOF_SLOT: SHOWN if proven else None}
        order = order_service().get(number)
        if order and owns(tracker, order):
            return {"order_number": number, PROOF_SLOT: SHOWN, ATTEMPTS_SLOT: 0.0}
        dispatcher.utter_message(response="utter_order_not_in_account", order_number=number)
        return self._failed(tracker, {"order_number": None})

    async def validate_order_proof(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        number = _before_this_turn(tracker, "order_number") if _answering_proof(tracker) else None
        number = number or tracker.get_slot("order_number")
        order = order_service().get(number) if number else None
        if order and owns(tracker, order):
            return {PROOF_SLOT: SHOWN}
        if not _answering_proof(tracker) or not number:
            return {PROOF_SLOT: None}  # left from an earlier order: ask for this one's
        if _intent(tracker) == HUMAN_INTENT:
            return {PROOF_SLOT: None, "requested_slot": None}
        guard = proof_guard()
        if await guard.locked(number):
            logger.info("conversation %s: proofs refused for a guessed order", tracker.sender_id)
            return {PROOF_SLOT: None, "requested_slot": None}
        if order and proof_matches(order, str(value or "")):
            return {PROOF_SLOT: SHOWN, VERIFIED_SLOT: number, ATTEMPTS_SLOT: 0.0}
        await guard.failed(number)
        dispatcher.utter_message(response="utter_order_proof_mismatch", order_number=number)
        return self._failed(tracker, {PROOF_SLOT: None})


class ValidateOrderStatusForm(OrderNumberValidation, FormValidationAction):
    FORM = "order_status_form"


class ValidateTrackingForm(OrderNumberValidation, FormValidationAction):
    FORM = "tracking_form"


class ValidateCancelForm(OrderNumberValidation, FormValidationAction):
    FORM = "cancel_form"


class ValidateRefundForm(OrderNumberValidation, FormValidationAction):
    FORM = "refund_form"


class ValidateReturnForm(OrderNumberValidation, FormValidationAction):
    FORM = "return_form"

    def validate_return_item(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(value or "").split())[:120]
        return {"return_item": text or None}

    def validate_return_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        text = " ".join(str(value or "").split())[:200]
        return {"return_reason": text or None}


class OrderLookup:
    """Resolves the form's order, if the customer is shown to own it, or hands off (a mixin for the actions that
    run after an order form)."""

    async def order(self, dispatcher: CollectingDispatcher,
                    tracker: Tracker) -> tuple[Order | None, list[EventType]]:
        number = tracker.get_slot("order_number")
        found = order_service().get(number) if number else None
        if found and owns(tracker, found):
            return found, []
        attempts: dict[str, float | int | str | None] = {"attempts": int(tracker.get_slot(ATTEMPTS_SLOT) or 0)}
        if _intent(tracker) == HUMAN_INTENT:
            reason = Reason("explicit_request", "The customer asked for a person.", {"intent": HUMAN_INTENT})
        elif number and await proof_guard().locked(number):
            dispatcher.utter_message(response="utter_order_lookup_failed")
            reason = Reason("order_lookup_failed", f"Too many wrong e-mails or postcodes were given for order "
                            f"{number} recently: check who the customer is before you discuss it.", attempts)
        elif number:
            dispatcher.utter_message(response="utter_order_lookup_failed")
            reason = Reason("order_lookup_failed", f"The customer could not show that order {number} is theirs.",
                            attempts)
        else:
            dispatcher.utter_message(response="utter_order_lookup_failed")
            reason = Reason("order_lookup_failed", "The customer could not give a valid order number.", attempts)
        events = hand_off(dispatcher, tracker, Decision("handoff", (reason,)), [])
        return None, [*events, SlotSet(ATTEMPTS_SLOT, 0.0)]


def _details(order: Order) -> dict[str, Any]:
    return {"order_number": order.number, "items": ", ".join(order.items), "status_text": order.status_text,
            "carrier": order.carrier, "tracking_number": order.tracking_number, "shipped_on": order.shipped_on,
            "eta": order.eta or order.delivered_on}


class ActionReportOrderStatus(OrderLookup, Action):
    def name(self) -> str:
        return "action_report_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if order:
            dispatcher.utter_message(response="utter_order_status", **_details(order))
            if order.tracking_number and order.status == "shipped":
                dispatcher.utter_message(response="utter_tracking", **_details(order))
        return events


class ActionReportTracking(OrderLookup, Action):
    def name(self) -> str:
        return "action_report_tracking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if order and order.tracking_number:
            dispatcher.utter_message(response="utter_tracking", **_details(order))
        elif order:
            dispatcher.utter_message(response="utter_tracking_not_shipped", **_details(order))
        return events


class ActionReportRefund(OrderLookup, Action):
    def name(self) -> str:
        return "action_report_refund"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if not order:
            return events
        if order.refund:
            text = (f"A refund of {order.refund['amount']} for order {order.number} was issued on "
                    f"{order.refund['issued_on']} to your {order.refund['method']}. Banks take 5-10 business "
                    "days to show it.")
        elif order.status in ("return_in_transit", "return_requested"):
            text = (f"Your return for order {order.number} is {order.status_text}. We refund within 3 business "
                    "days of it reaching our warehouse.")
        else:
            text = (f"There is no refund on order {order.number}: it is {order.status_text}. Refunds start "
                    "once a return reaches our warehouse.")
        dispatcher.utter_message(response="utter_refund_status", refund_text=text)
        return events


class ActionOfferCancel(OrderLookup, Action):
    def name(self) -> str:
        return "action_offer_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if order and order.status == "processing":
            dispatcher.utter_message(response="utter_confirm_cancel", **_details(order))
        elif order:
            dispatcher.utter_message(response="utter_cancel_too_late", **_details(order))
        return events


class ActionCancelOrder(OrderLookup, Action):
    def name(self) -> str:
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if not order:
            return events
        try:
            order_service().cancel(order.number)
        except ValueError:
            dispatcher.utter_message(response="utter_cancel_too_late", **_details(order))
            return events
        logger.info("conversation %s: order cancelled", tracker.sender_id)
        dispatcher.utter_message(response="utter_order_cancelled", order_number=order.number)
        return events


class ActionKeepOrder(Action):
    def name(self) -> str:
        return "action_keep_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_cancel_kept", order_number=tracker.get_slot("order_number"))
        return []


class ActionSubmitReturn(OrderLookup, Action):
    def name(self) -> str:
        return "action_submit_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        order, events = await self.order(dispatcher, tracker)
        if not order:
            return events
        item, reason = tracker.get_slot("return_item"), tracker.get_slot("return_reason")
        try:
            return_id = order_service().create_return(order.number, str(item), str(reason))
        except ValueError:
            why = (f"it is {order.status_text}. Returns start once an order is delivered."
                   if order.status in ("processing", "packed", "shipped")
                   else f"it is already {order.status_text}.")
            dispatcher.utter_message(response="utter_return_not_eligible", order_number=order.number, why=why)
            return [*events, SlotSet("return_item", None), SlotSet("return_reason", None)]
        logger.info("conversation %s: return %s registered", tracker.sender_id, return_id)
        dispatcher.utter_message(response="utter_return_created", return_id=return_id, return_item=item,
                                 order_number=order.number)
        return [*events, SlotSet("return_item", None), SlotSet("return_reason", None)]
