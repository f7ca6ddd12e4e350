"""Order look-up, tracking, refunds, cancellation and returns.

Each task is a form that collects a valid order number (and, for returns, the
item and the reason), then an action that reports or acts. An order number is
accepted if it has 5-8 digits and the store knows it; after
``ACTIONS_MAX_ORDER_ATTEMPTS`` failures the form ends and the conversation is
handed off, because a person can find the order by e-mail or name.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.escalation import Decision, Reason
from actions.handoff import hand_off
from actions.order_service import DemoOrderService, Order, OrderService, normalise_order_number
from actions.settings import ActionSettings
from actions.signals import HUMAN_INTENT

logger = logging.getLogger(__name__)
ATTEMPTS_SLOT = "order_attempts"


@cache
def order_service() -> OrderService:
    """The order system for this process (the demo store's unless configured otherwise)."""
    return DemoOrderService(ActionSettings.from_env().orders_file)


class OrderNumberValidation:
    """Validates ``order_number`` for every order form (a mixin: rasa-sdk registers every Action subclass)."""

    FORM = ""

    def name(self) -> str:
        return f"validate_{self.FORM}"

    def validate_order_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == HUMAN_INTENT:
            return {"order_number": None, "requested_slot": None}
        number = normalise_order_number(value)
        attempts = int(tracker.get_slot(ATTEMPTS_SLOT) or 0)
        if number and order_service().get(number):
            return {"order_number": number, ATTEMPTS_SLOT: 0.0}
        if number:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
        else:
            dispatcher.utter_message(response="utter_order_number_invalid", value=str(value)[:40])
        if attempts + 1 >= ActionSettings.from_env().max_order_attempts:
            return {"order_number": None, ATTEMPTS_SLOT: float(attempts + 1), "requested_slot": None}
        return {"order_number": None, ATTEMPTS_SLOT: float(attempts + 1)}


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
    """Resolves the form's order or hands off (a mixin for the actions that run after an order form)."""

    def order(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> tuple[Order | None, list[EventType]]:
        number = tracker.get_slot("order_number")
        found = order_service().get(number) if number else None
        if found:
            return found, []
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent == HUMAN_INTENT:
            reason = Reason("explicit_request", "The customer asked for a person.", {"intent": intent})
        else:
            dispatcher.utter_message(response="utter_order_lookup_failed")
            reason = Reason("order_lookup_failed", "The customer could not give a valid order number.",
                            {"attempts": int(tracker.get_slot(ATTEMPTS_SLOT) or 0)})
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
        order, events = self.order(dispatcher, tracker)
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
        order, events = self.order(dispatcher, tracker)
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
        order, events = self.order(dispatcher, tracker)
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
        order, events = self.order(dispatcher, tracker)
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
        order, events = self.order(dispatcher, tracker)
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
        order, events = self.order(dispatcher, tracker)
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
