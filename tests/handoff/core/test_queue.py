"""The hold queue's order with aging, positions, and wait estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from handoff.core.model import AgentId, AgentSnapshot, ConversationId, CustomerId, CustomerProfile, Presence, Priority
from handoff.core.model import WaitingConversation as Waiting
from handoff.core.queue import QueueOrder, estimate_wait

NOW = 1_800_000_000.0


def entry(name: str, priority: Priority, waited: float) -> Waiting:
    return Waiting(ConversationId(name), CustomerProfile(CustomerId("c")), priority=priority, queued_at=NOW - waited)


@dataclass(frozen=True)
class Record:
    """Shaped like a store record: ``queued_at`` may be None."""

    conversation_id: ConversationId
    priority: Priority
    queued_at: float | None


def names(entries: list[Waiting]) -> list[str]:
    return [e.conversation_id for e in entries]


def test_queue_serves_priority_then_the_oldest() -> None:
    entries = [entry("normal-old", Priority.NORMAL, 60), entry("high-new", Priority.HIGH, 10),
               entry("normal-new", Priority.NORMAL, 5), entry("urgent", Priority.URGENT, 1)]
    assert names(QueueOrder(aging_seconds=math.inf).sort(entries, NOW)) == [
        "urgent", "high-new", "normal-old", "normal-new"]


def test_queue_aging_lets_a_long_wait_overtake_newcomers() -> None:
    order = QueueOrder(aging_seconds=300)
    starving = entry("normal-11min", Priority.NORMAL, 660)  # 0 + 2.2
    entries = [entry("urgent-new", Priority.URGENT, 0), starving, entry("high-4min", Priority.HIGH, 240)]  # 2.0, 1.8
    assert names(order.sort(entries, NOW)) == ["normal-11min", "urgent-new", "high-4min"]
    assert order.effective_priority(starving, NOW) == pytest.approx(2.2)


def test_queue_order_is_total_and_deterministic() -> None:
    same = [entry(name, Priority.NORMAL, 30) for name in ("c", "a", "b")]
    assert names(QueueOrder().sort(same, NOW)) == ["a", "b", "c"]


def test_queue_position_counts_from_one() -> None:
    order = QueueOrder()
    entries = [Record(ConversationId("x"), Priority.NORMAL, NOW - 10), Record(ConversationId("y"), Priority.HIGH, None)]
    assert order.position_of(ConversationId("y"), entries, NOW) == 1  # no queued_at: has not waited
    assert order.position_of(ConversationId("x"), entries, NOW) == 2
    assert order.position_of(ConversationId("z"), entries, NOW) is None


def test_queue_refuses_non_positive_aging() -> None:
    with pytest.raises(ValueError, match="aging_seconds"):
        QueueOrder(aging_seconds=0)


def agent(name: str, load: int, capacity: int = 2, presence: Presence = Presence.ONLINE) -> AgentSnapshot:
    return AgentSnapshot(AgentId(name), presence=presence, load=load, capacity=capacity)


def test_queue_wait_is_zero_while_free_slots_remain() -> None:
    agents = [agent("a", 1), agent("b", 0)]  # 3 free slots
    assert [estimate_wait(p, agents, 600) for p in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_queue_wait_grows_with_position_over_online_capacity() -> None:
    agents = [agent("a", 2), agent("b", 2), agent("away", 0, presence=Presence.AWAY)]  # 4 online slots, all busy
    assert estimate_wait(1, agents, 600) == pytest.approx(150)
    assert estimate_wait(8, agents, 600) == pytest.approx(1200)
    assert estimate_wait(2, [agent("a", 1), agent("b", 2)], 600) == pytest.approx(150)  # one served at once


def test_queue_wait_is_unbounded_without_online_agents() -> None:
    assert estimate_wait(1, [agent("off", 0, presence=Presence.OFFLINE)], 600) == math.inf
    assert estimate_wait(1, [], 600) == math.inf


@pytest.mark.parametrize("aging", [300.0, 60.0, math.inf])
def test_queue_rank_orders_as_aged_priority_at_any_later_moment(aging: float) -> None:
    """The fixed rank sorts exactly as the aged priority would (highest first, then the oldest, then the id),
    whenever it is read: the store can keep the queue sorted once."""
    import random

    rng = random.Random(11)
    order = QueueOrder(aging_seconds=aging)
    for _ in range(200):
        entries = [Waiting(ConversationId(f"c{n}"), CustomerProfile(CustomerId("c")), priority=rng.choice(list(Priority)),
                           queued_at=NOW + rng.choice([0.0, 60.0, 120.0, 300.0, 600.0, rng.uniform(0, 900)]))
                   for n in range(8)]
        now = max(e.queued_at for e in entries) + rng.uniform(0, 3600)
        by_aged_priority = sorted(entries, key=lambda e: (-round(order.effective_priority(e, now), 9), e.queued_at,
                                                          e.conversation_id))
        assert order.sort(entries, now) == by_aged_priority


def test_queue_rank_puts_the_older_of_two_equal_effective_priorities_first() -> None:
    order = QueueOrder(aging_seconds=300.0)
    assert order.rank(Priority.NORMAL, NOW) < order.rank(Priority.HIGH, NOW + 300.0)
    assert order.rank(Priority.HIGH, NOW + 300.0) < order.rank(Priority.NORMAL, NOW + 0.001)
