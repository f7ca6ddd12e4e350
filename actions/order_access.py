"""Whose order is it: the order actions act only on orders the customer is shown to own.

Two ways to show it:

- the shop signed the customer in: the handoff service verified the widget's signature and tells the bot the
  shop's customer id with every message (message metadata ``customer_external_id``). Their own orders are
  theirs; any other number is refused without a word about that order.
- an anonymous visitor answers, for one order number, with the order's e-mail address or postcode (the proof);
  a right answer is remembered in the ``order_verified`` slot (the number), which only this code sets.

Proof guessing is limited across conversations: after ``ACTIONS_PROOF_ATTEMPTS`` wrong proofs for one order
number within ``ACTIONS_PROOF_WINDOW`` seconds, that order refuses every proof (the right one too) until the
oldest of them is out of the window, so a script opening conversation after conversation cannot run through
postcodes. The count is kept in the action server's process.

The metadata is trusted because only the handoff service reaches Rasa (loopback by default, docs/security.md);
the ``order_verified`` slot because no customer can set a slot with a custom mapping.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable

from rasa_sdk import Tracker

from actions.order_service import Order

VERIFIED_SLOT = "order_verified"
CUSTOMER_METADATA = "customer_external_id"
EMAIL = re.compile(r"[^\s@<>(),;:]+@[^\s@<>(),;:]+\.[A-Za-z]{2,}")


def verified_customer(tracker: Tracker) -> str | None:
    """The shop's id of the customer, if the handoff service verified the shop's signature: from the metadata of
    the customer's latest message (each message carries it; Rasa keeps it on the ``user`` event)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            value = (event.get("metadata") or {}).get(CUSTOMER_METADATA)
            return value if isinstance(value, str) and value else None
    return None


def owns(tracker: Tracker, order: Order) -> bool:
    """Whether the customer is shown to own ``order`` (signed in as its customer, or proved it)."""
    customer = verified_customer(tracker)
    if customer is not None:
        return bool(order.customer_id) and order.customer_id == customer
    return tracker.get_slot(VERIFIED_SLOT) == order.number


def _postcode(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def proof_matches(order: Order, answer: str) -> bool:
    """Whether ``answer`` is the order's e-mail address (the one address in it, any case) or its postcode (the
    whole answer, ignoring case, spaces and hyphens). One guess per answer: a list of postcodes matches none."""
    addresses = EMAIL.findall(answer)
    if addresses:
        return len(addresses) == 1 and bool(order.email) and addresses[0].lower() == order.email.lower()
    return bool(order.postcode) and _postcode(answer) == _postcode(order.postcode)


class ProofGuard:
    """Wrong proofs per order number, across conversations, in a sliding window."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, number: str) -> deque[float]:
        failures = self._failures.get(number, deque())
        while failures and failures[0] <= self._clock() - self._window:
            failures.popleft()
        if not failures:
            self._failures.pop(number, None)  # nothing kept for numbers nobody is guessing
        return failures

    def locked(self, number: str) -> bool:
        """Whether ``number`` refuses proofs now."""
        with self._lock:
            return len(self._recent(number)) >= self._attempts

    def failed(self, number: str) -> None:
        """Count a wrong proof for ``number``."""
        with self._lock:
            self._failures[number] = self._recent(number)
            self._failures[number].append(self._clock())
