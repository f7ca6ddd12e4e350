"""The store's order system, as the actions need it.

:class:`OrderService` is the interface a deployment implements against its
shop platform. :class:`DemoOrderService` serves the demo store's orders from
``data/demo/orders.yml``; cancellations and returns it records live in memory
for the life of the action server (the source file is never rewritten).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import yaml

ORDER_NUMBER = re.compile(r"(?<!\d)\d{5,8}(?!\d)")
CANCELLABLE = ("processing",)
RETURNABLE = ("delivered",)
STATUS_TEXT = {
    "processing": "being prepared in our warehouse and not packed yet",
    "packed": "packed and waiting for the carrier",
    "shipped": "on its way",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "refunded": "returned and refunded",
    "return_in_transit": "being returned to us",
    "return_requested": "registered for return",
}


@dataclass(frozen=True)
class Order:
    number: str
    status: str
    items: tuple[str, ...]
    placed: str
    total: str = ""
    carrier: str = ""
    tracking_number: str = ""
    shipped_on: str = ""
    eta: str = ""
    delivered_on: str = ""
    refund: dict[str, str] = field(default_factory=dict)
    customer_id: str = ""  # the shop's id of the customer (the widget's external_id); empty for a guest order
    email: str = ""  # the order's e-mail address and postcode: what an anonymous visitor proves ownership with
    postcode: str = ""

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status.replace("_", " "))


class OrderService(Protocol):
    def get(self, number: str) -> Order | None: ...

    def cancel(self, number: str) -> Order: ...

    def create_return(self, number: str, item: str, reason: str) -> str: ...


def normalise_order_number(text: str | None) -> str | None:
    """The first 5-8 digit number in ``text`` ("#12345", "order no. 12345" -> "12345")."""
    if not text:
        return None
    match = ORDER_NUMBER.search(str(text))
    return match.group(0) if match else None


class DemoOrderService:
    """Orders of the demo store, from a YAML file."""

    def __init__(self, path: Path) -> None:
        data = yaml.safe_load(path.read_text()) or {}
        self._orders: dict[str, Order] = {}
        for number, row in (data.get("orders") or {}).items():
            values = {k: (tuple(v) if k == "items" else v if k == "refund" else str(v)) for k, v in row.items()}
            self._orders[str(number)] = Order(number=str(number), **values)
        self._lock = threading.Lock()
        self._returns = itertools.count(1)

    def get(self, number: str) -> Order | None:
        return self._orders.get(number)

    def cancel(self, number: str) -> Order:
        with self._lock:
            order = self._orders[number]
            if order.status not in CANCELLABLE:
                raise ValueError(f"order {number} is {order.status}")
            self._orders[number] = replace(order, status="cancelled")
            return self._orders[number]

    def create_return(self, number: str, item: str, reason: str) -> str:
        with self._lock:
            order = self._orders[number]
            if order.status not in RETURNABLE:
                raise ValueError(f"order {number} is {order.status}")
            self._orders[number] = replace(order, status="return_requested")
            return f"R-{number}-{next(self._returns)}"
