"""Build the hand-off request (schemas/handoff-request.v2.json) from a tracker.

The payload travels inside the bot's reply, under ``custom.handoff``; the
handoff service validates it against the same JSON Schema file. The summary is
extractive, built from the conversation's own events, so it never says
anything the conversation did not contain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker

from actions.categories import conversation_category
from actions.escalation import Decision
from actions.signals import ranking, sentiment

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "handoff-request.v2.json"
SCHEMA_ID = "handoff-request/v2"
SHARED_SLOTS = ("order_number", "email", "return_item", "return_reason")
QUOTE_CHARS = 160
READABLE = {"nlu_fallback": "something the assistant did not understand"}


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema every hand-off request must satisfy."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def build(tracker: Tracker, decision: Decision, candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The hand-off request for ``tracker``'s conversation, given why and what the bot found."""
    latest = tracker.latest_message or {}
    intents = [{"name": r["name"], "confidence": round(float(r["confidence"]), 4)} for r in ranking(tracker)[:5]]
    knowledge = [{k: c[k] for k in ("article_id", "version", "title", "category", "score")} for c in candidates[:5]]
    return {
        "schema": SCHEMA_ID,
        "conversation_id": tracker.sender_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "priority": decision.priority,
        "reasons": [r.to_dict() for r in decision.reasons],
        "intents": intents,
        "knowledge": knowledge,
        "category": conversation_category(intents, knowledge),
        "sentiment": sentiment(tracker),
        "summary": summarise(tracker, decision),
        "last_user_message": str(latest.get("text") or ""),
        "slots": {name: tracker.get_slot(name) for name in SHARED_SLOTS if tracker.get_slot(name) is not None},
    }


def summarise(tracker: Tracker, decision: Decision) -> str:
    """One paragraph: what the customer asked, what the bot did, why it hands off."""
    asked: list[str] = []
    answered: list[str] = []
    for event in tracker.events:
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or "nlu_fallback"
            if intent not in ("greet", "affirm", "deny", "thank", "inform"):
                asked.append(READABLE.get(intent, intent.replace("_", " ")))
        elif event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            if "citation" in custom:
                answered.append(custom["citation"]["title"])
    turns = sum(1 for e in tracker.events if e.get("event") == "user")
    parts = [f"The customer wrote {turns} message{'s' if turns != 1 else ''}"]
    if asked:
        parts[0] += " about " + _join(list(dict.fromkeys(asked)))
    facts = [f"{name.replace('_', ' ')} {tracker.get_slot(name)}" for name in SHARED_SLOTS if tracker.get_slot(name)]
    if facts:
        parts.append("They gave " + _join(facts))
    if answered:
        parts.append("The bot answered from the articles " + _join([f'"{t}"' for t in dict.fromkeys(answered)]))
    text = str((tracker.latest_message or {}).get("text") or "")
    if text:
        quote = text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
        parts.append(f'Their last message: "{quote}"')
    parts.append("Handed off because: " + "; ".join(r.detail.rstrip(".").lower() for r in decision.reasons))
    return ". ".join(parts) + "."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
