"""The routing simulator's history (handoff/adapters/tickets/replay.py) from the hand-built history
(tests/handoff/adapters/tickets/history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.core.model import Priority
from handoff.core.replay import CustomerStart
from tests.handoff.adapters.tickets.history import ADA, CUSTOMER, T0, build_history


async def test_the_periods_hand_offs_and_what_became_of_them(log: TicketLog) -> None:
    await build_history(log)
    history = await log.replay.history(T0, T0.timestamp() + 2 * 86400)
    assert history.customers == {}  # nothing before the period
    start = T0.timestamp()
    found = {round(c.created_at - start): (c.tier, c.category, c.status, c.wait, c.handle_seconds, c.transfers,
                                           c.gave_up_after) for c in history.contacts}
    assert found == {
        100: (1, "orders", "resolved", pytest.approx(60), pytest.approx(1140), 0, None),
        200: (2, "billing", "resolved", pytest.approx(300), pytest.approx(1100), 1, None),
        300: (1, "orders", "abandoned", None, None, 0, pytest.approx(100)),  # gave up after 100 s
        5000: (1, "orders", "resolved", pytest.approx(30), pytest.approx(970), 0, None),
        86400: (1, None, "open", None, None, 0, None),
    }
    assert [round(c.created_at - start) for c in history.contacts] == [100, 200, 300, 5000, 86400]
    first = history.contacts[0]
    assert (first.customer_id, first.priority, first.language, first.value_tier) == (CUSTOMER, Priority.NORMAL,
                                                                                     "en", "standard")


async def test_returning_customers_as_routing_knew_them_when_the_period_began(log: TicketLog) -> None:
    await build_history(log)
    history = await log.replay.history(T0.timestamp() + 4000, T0.timestamp() + 2 * 86400)
    assert [round(c.created_at - T0.timestamp()) for c in history.contacts] == [5000, 86400]
    # three tickets before; ada took the transferred one last (at 700; grace had it at 500)
    assert history.customers == {CUSTOMER: CustomerStart(ADA, 3)}
    measured = history.measured(60.0)
    # the open ticket is queued and not yet assigned: it counts against the service level
    assert (measured["queued"], measured["wait_p50"], measured["service_level"]) == (2.0, pytest.approx(30), 0.5)
