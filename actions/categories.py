"""What a conversation is about, as a knowledge category; the bot decides it, the hand-off request carries it.

A category is a shelf of the knowledge base (``data/knowledge/<category>/``). The bot narrows its searches
to the shelf the intent points at (``actions/knowledge.py``), and names the conversation's category in the
hand-off request (``category``, docs/handoff-payload.md), where the handoff service routes on it (agents'
skills) and rates its difficulty. The service keeps no table of intents: this is the only one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

INTENT_CATEGORY: Mapping[str, str] = {
    "shipping_options": "shipping", "delivery_tracking": "shipping",
    "return_policy": "returns", "exchange_item": "returns", "damaged_item": "returns", "return_request": "returns",
    "refund_status": "returns",
    "payment_failed": "payments", "payment_methods": "payments", "invoice_request": "payments",
    "discount_code": "payments",
    "account_login_problem": "accounts", "password_reset": "accounts",
    "product_availability": "products", "warranty_claim": "products",
    "privacy_data": "privacy",
    "change_address": "orders", "missing_item": "orders", "order_status": "orders", "cancel_order": "orders",
}
"""Intent name -> the category its questions are about. Chit-chat, ``inform``, ``complaint``,
``request_human`` and ``out_of_scope`` say nothing about the topic and are absent."""

CATEGORY_MIN_SCORE = 0.35
"""A knowledge candidate scoring below this says too little about the topic to name its category (the
answering threshold, ``KB_MIN_SCORE``, is higher: a weak match can still point at the right shelf)."""


def conversation_category(intents: Sequence[Mapping[str, Any]],
                          candidates: Sequence[Mapping[str, Any]]) -> str | None:
    """The category of a conversation handed off now, or None when nothing says.

    Args:
        intents: the NLU ranking of the last message, best first (``{name, confidence}``).
        candidates: the knowledge candidates for it, best first (``{category, score, ...}``).

    Returns:
        The best candidate's category when it scored at least :data:`CATEGORY_MIN_SCORE` (the search
        was narrowed to the intent's category when the intent was trusted, so the two mostly agree), else
        the top intent's category from :data:`INTENT_CATEGORY`, else None.
    """
    if candidates:
        best = candidates[0]
        if best.get("category") and float(best.get("score") or 0.0) >= CATEGORY_MIN_SCORE:
            return str(best["category"])
    return INTENT_CATEGORY.get(str(intents[0].get("name"))) if intents else None
