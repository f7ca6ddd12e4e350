"""Dispatch: routing the queue to agents with room, atomically; the sweeper on the fake clock."""

from __future__ import annotations

import asyncio

from handoff.core.model import ConversationRecord, State
from handoff.service import HandoffService
from handoff.service.ports import Store
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock


async def queued(service: HandoffService, count: int, clock: FakeClock | None = None) -> list[Customer]:
    customers = []
    for _ in range(count):
        customer = await Customer.start(service)
        await customer.say("a person please")
        customers.append(customer)
        if clock is not None:
            clock.advance(1)
    return customers


async def test_an_online_agent_gets_the_conversation_at_once(service: HandoffService, clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("I want a person")
    assigned = (await grace.inbox.next(of_type("assigned")))["conversation"]
    assert (assigned["conversation_id"], assigned["state"], assigned["agent_id"]) == (
        customer.conversation_id, "assigned", grace.id)
    assert assigned["accept_deadline"] == "2026-11-25T14:01:00+00:00"  # HANDOFF_ACCEPT_TIMEOUT after now
    assert assigned["last_message"]["sender"] == "bot"
    await customer.inbox.next(message_from("system", "Grace Hopper has joined"))
    state = await customer.inbox.next(of_type("state", state="assigned"))
    assert (state["agent_name"], state["queue"]) == ("Grace Hopper", None)
    await grace.inbox.next(of_type("queue_exit", conversation_id=customer.conversation_id))
    ticket = await service.helpdesk.ticket(SUPERVISOR, assigned["ticket_id"])
    assert ticket["assigned_at"] and ticket["assignee_id"] == grace.id
    assignment = ticket["transitions"][-1]
    assert (assignment["cause"], assignment["actor"]) == ("assigned", grace.id)
    assert grace.id in assignment["details"]["scores"] and assignment["details"]["explanation"]
    assert [s["conversation_id"] for s in await service.desk.mine(grace.principal)] == [customer.conversation_id]


async def test_capacity_holds_and_a_freed_slot_takes_the_next(service: HandoffService, clock: FakeClock) -> None:
    linus = await Agent.sign_in(service, "linus")  # capacity 3, tier 1
    customers = await queued(service, 4, clock)
    mine = await service.desk.mine(linus.principal)  # oldest assignment first
    assert [s["conversation_id"] for s in mine] == [c.conversation_id for c in customers[:3]]
    assert [s["conversation_id"] for s in await service.desk.queue(SUPERVISOR)] == [customers[3].conversation_id]
    await service.desk.resolve(linus.principal, customers[0].conversation_id)
    assert (await customers[3].record()).agent_id == linus.id
    assert await service.desk.queue(SUPERVISOR) == []


async def test_coming_online_routes_the_queue_in_service_order(service: HandoffService, clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")
    customers = await queued(service, 4, clock)
    assert [s["position"] for s in await service.desk.queue(SUPERVISOR)] == [1, 2, 3, 4]
    await grace.presence("online")  # capacity 3: the oldest three
    assert {s["conversation_id"] for s in await service.desk.mine(grace.principal)} == {
        c.conversation_id for c in customers[:3]}
    assert [s["conversation_id"] for s in await service.desk.queue(SUPERVISOR)] == [customers[3].conversation_id]
    for customer in customers[:3]:
        await customer.inbox.next(message_from("system", "Grace Hopper has joined"))


async def test_an_unanswered_assignment_goes_back_to_the_queue(service: HandoffService, clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("a person please")
    await grace.inbox.next(of_type("assigned"))
    linus = await Agent.sign_in(service, "linus")
    clock.advance(59)
    await service.sweep()
    assert (await customer.record()).agent_id == grace.id  # not yet
    clock.advance(2)
    await service.sweep()
    back = await grace.inbox.next(of_type("conversation"))
    assert back["conversation"]["state"] == "queued"
    assert (await grace.inbox.next(of_type("presence")))["presence"] == "away"
    await customer.inbox.next(message_from("system", "finding another colleague"))
    await customer.inbox.next(message_from("system", "Linus Berg has joined"))
    record = await customer.record()
    assert (record.agent_id, record.excluded) == (linus.id, frozenset({grace.id}))
    ticket = await service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [
        (grace.id, "accept_timeout"), (linus.id, None)]
    assert [t["cause"] for t in ticket["transitions"]][-3:] == ["assigned", "accept_timeout", "assigned"]


async def test_an_answered_assignment_stays(service: HandoffService, clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("a person please")
    await grace.inbox.next(of_type("assigned"))
    await grace.say(customer.conversation_id, "Hi, Grace here.")
    clock.advance(3600)
    await service.sweep()
    assert (await customer.record()).agent_id == grace.id


async def test_a_customer_gone_from_the_queue_too_long_is_abandoned(service: HandoffService,
                                                                    clock: FakeClock) -> None:
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")
    gone, back = await queued(service, 2)
    for customer in (gone, back):
        await service.customers.presence(customer.conversation_id, connected=False)
    clock.advance(100)
    await service.customers.presence(back.conversation_id, connected=True)  # reconnected in time
    clock.advance(21)  # HANDOFF_ABANDON_AFTER is 120 s
    await service.sweep()
    assert (await gone.record()).state is State.ABANDONED
    assert (await back.record()).state is State.QUEUED
    await grace.inbox.next(of_type("queue_exit", conversation_id=gone.conversation_id))
    ticket = await service.helpdesk.ticket(SUPERVISOR, (await gone.record()).ticket_id or 0)
    assert (ticket["status"], ticket["resolution"]) == ("abandoned", "abandoned")
    assert [s["conversation_id"] for s in await service.desk.queue(SUPERVISOR)] == [back.conversation_id]


async def test_two_instances_never_assign_one_conversation_twice(open_service: OpenService, profile: str,
                                                                 clock: FakeClock) -> None:
    services = [await open_service()] if profile == "embedded" else [await open_service(), await open_service()]
    agents = [await Agent.sign_in(services[n % len(services)], name) for n, name in enumerate(["ada", "grace", "linus"])]
    for agent in agents:
        await agent.presence("away")
    customers = [customer for n in range(12) for customer in await queued(services[n % len(services)], 1)]
    await asyncio.gather(*(agent.presence("online") for agent in agents))  # every instance routes at once
    owners = {agent.principal.username: [s["conversation_id"] for s in await services[0].desk.mine(agent.principal)]
              for agent in agents}
    assigned = [cid for ids in owners.values() for cid in ids]
    assert len(assigned) == len(set(assigned)) == 10
    assert {name: len(ids) for name, ids in owners.items()} == {"ada": 4, "grace": 3, "linus": 3}
    waiting = [s["conversation_id"] for s in await services[-1].desk.queue(SUPERVISOR)]
    assert len(waiting) == len(customers) - 10 and not set(waiting) & set(assigned)


async def test_routing_reads_past_conversations_nobody_free_may_take(service: HandoffService) -> None:
    """Sixty tier-2 complaints wait ahead; an agent qualified only for tier 1 still gets the tier-1 one."""
    for _ in range(60):
        await (await Customer.start(service)).say("I am furious")
    easy = await Customer.start(service)
    await easy.say("a person please")
    linus = await Agent.sign_in(service, "linus")  # tier 1 only
    assert (await easy.record()).agent_id == linus.id
    assert len(await service.desk.queue(SUPERVISOR)) == 60


async def test_routing_is_not_thrown_off_when_the_queue_changes_under_it(open_service: OpenService) -> None:
    """What leaves the queue while the routing loop reads it (another instance's work, a customer who gives
    up) does not make it pass over a conversation it could route."""
    taken: list[str] = []

    class Shifting:
        """The real store; once armed, the first conversation of the first page routing reads leaves the queue
        as soon as it is read."""

        def __init__(self, store: Store) -> None:
            self._store = store
            self.armed = False

        def __getattr__(self, name: str) -> object:
            return getattr(self._store, name)

        async def queued(self, offset: int = 0, limit: int | None = None,
                         from_rank: float | None = None) -> list[ConversationRecord]:
            page = await self._store.queued(offset, limit, from_rank)
            if self.armed and page:
                self.armed = False
                taken.append(page[0].conversation_id)
                await self._store.update_conversation(page[0].conversation_id, [State.QUEUED],
                                                      {"state": State.ABANDONED})
            return page

    stores: list[Shifting] = []
    service = await open_service(wrap_store=lambda store: stores.append(Shifting(store)) or stores[-1])
    linus = await Agent.sign_in(service, "linus")  # tier 1, capacity 3
    for _ in range(2):
        await (await Customer.start(service)).say("a person please")
    await linus.presence("away")  # two of his three slots taken: one free when he is back
    hard, easy = await Customer.start(service), await Customer.start(service)
    await hard.say("I am furious")  # tier 2: not his
    await easy.say("a person please")  # tier 1, behind it
    stores[0].armed = True
    await linus.presence("online")  # reads one conversation (one slot), skips it, reads on
    assert taken == [hard.conversation_id]
    assert (await easy.record()).agent_id == linus.id


async def test_two_sweepers_at_once_leave_each_conversation_handled_once(open_service: OpenService,
                                                                        profile: str, clock: FakeClock) -> None:
    services = [await open_service()] if profile == "embedded" else [await open_service(), await open_service()]
    grace = await Agent.sign_in(services[0], "grace")
    slow = await Customer.start(services[0])
    await slow.say("a person please")
    await grace.inbox.next(of_type("assigned"))
    await grace.presence("away")
    gone = await Customer.start(services[-1])
    await gone.say("a person please")
    await services[-1].customers.presence(gone.conversation_id, connected=False)
    clock.advance(200)
    await asyncio.gather(*(service.sweep() for service in services), *(service.sweep() for service in services))
    assert (await gone.record()).state is State.ABANDONED
    record = await slow.record()
    assert (record.state, record.excluded) == (State.QUEUED, frozenset({grace.id}))
    ticket = await services[0].helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert [(a["agent_id"], a["end_cause"]) for a in ticket["assignments"]] == [(grace.id, "accept_timeout")]
    assert [t["cause"] for t in ticket["transitions"]].count("accept_timeout") == 1
