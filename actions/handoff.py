"""Hand the conversation to a person: the reply carries the hand-off request.

The bot does not decide what happens next (queue, routing, out-of-hours): the
handoff service does, from the request under ``custom.handoff`` in this reply.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import Decision, Reason
from actions.handoff_request import build
from actions.signals import FALLBACK_COUNT_SLOT, ranking

logger = logging.getLogger(__name__)

RESPONSE_FOR = {"explicit_request": "utter_handoff_explicit", "negative_sentiment": "utter_handoff_frustrated",
                "complaint": "utter_handoff_frustrated"}


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, decision: Decision,
             candidates: list[dict[str, Any]]) -> list[EventType]:
    """Tell the customer a person takes over, attach the request, remember it in a slot."""
    request = build(tracker, decision, candidates)
    response = RESPONSE_FOR.get(decision.reasons[0].code, "utter_handoff")
    dispatcher.utter_message(response=response, json_message={"handoff": request})
    logger.info("conversation %s: hand-off requested (%s, priority %s)", tracker.sender_id,
                ",".join(decision.codes), decision.priority)
    return [SlotSet("handoff_requested", True), SlotSet(FALLBACK_COUNT_SLOT, 0.0)]


class ActionRequestHandoff(Action):
    """The customer asked for a person."""

    def name(self) -> str:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        top = (ranking(tracker) or [{"name": "request_human", "confidence": 1.0}])[0]
        reason = Reason("explicit_request", "The customer asked for a person.",
                        {"intent": top["name"], "confidence": round(float(top["confidence"]), 3)})
        return hand_off(dispatcher, tracker, Decision("handoff", (reason,)), [])
