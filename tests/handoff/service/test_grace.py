"""Who is still there: an agent whose consoles are gone past ``HANDOFF_AGENT_GRACE`` loses their
conversations to the queue; a conversation transferred to a named agent never waits for nobody; a waiting
customer with a live socket is never abandoned. On the fake clock, both profiles."""

from __future__ import annotations

from starlette.datastructures import Secret

from handoff.core.model import State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import Agent, Customer, FakeClock

GRACE = 20.0


async def escalated(service: HandoffService, count: int = 1) -> list[Customer]:
    customers = []
    for _ in range(count):
        customers.append(await Customer.start(service))
        await customers[-1].say("a person please")
    return customers


async def with_ada(service: HandoffService, text: str = "Hello!") -> tuple[Agent, Customer]:
    """Ada signed in, with one conversation she has answered."""
    ada = await Agent.sign_in(service, "ada")
    (customer,) = await escalated(service)
    await ada.say(customer.conversation_id, text)
    return ada, customer


async def test_an_agent_gone_past_the_grace_period_loses_every_conversation_to_the_queue(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(agent_grace=GRACE)
    ada = await Agent.sign_in(service, "ada")
    await service.desk.seen(ada.principal)  # her console's socket opens
    answered, unanswered = await escalated(service, 2)
    await ada.say(answered.conversation_id, "Hello!")
    clock.advance(5)
    await service.desk.seen(ada.principal)  # ... and closes: her grace starts
    clock.advance(GRACE - 1)
    await service.sweep()
    assert {s["conversation_id"] for s in await service.desk.mine(ada.principal)} == {
        answered.conversation_id, unanswered.conversation_id}
    clock.advance(2)
    await service.sweep()
    assert await service.desk.mine(ada.principal) == []
    assert await service.desk.presence_of(ada.principal) == "away"
    for customer in (answered, unanswered):
        record = await customer.record()
        assert (record.state, record.agent_id, record.excluded) == (State.QUEUED, None, frozenset())
        await customer.inbox.next(message_from("system", "Ada Lovelace lost their connection"))
        await customer.inbox.next(of_type("state", state="queued"))
        ticket = await service.helpdesk.ticket(ada.principal, record.ticket_id)
        assert ticket["assignee_id"] is None and ticket["status"] == "open"
        assert ticket["transitions"][-1]["cause"] == "agent_offline"
    grace = await Agent.sign_in(service, "grace")
    assert {s["conversation_id"] for s in await service.desk.mine(grace.principal)} == {
        answered.conversation_id, unanswered.conversation_id}


async def test_an_agent_whose_console_keeps_pinging_keeps_their_conversations(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(agent_grace=GRACE)
    ada, customer = await with_ada(service)
    for _ in range(10):
        await service.desk.seen(ada.principal)  # one ping of any of her sockets
        clock.advance(GRACE / 2)
        await service.sweep()
    assert (await customer.record()).agent_id == ada.id
    assert await service.desk.presence_of(ada.principal) == "online"


async def test_an_agent_who_never_had_a_console_is_not_watched(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(agent_grace=GRACE)
    ada = await Agent.sign_in(service, "ada")  # a script on the REST API, no socket
    (customer,) = await escalated(service)
    await ada.say(customer.conversation_id, "Hello!")
    clock.advance(10 * GRACE)
    await service.sweep()
    assert (await customer.record()).agent_id == ada.id


async def test_after_a_restart_an_agent_who_does_not_come_back_loses_their_conversations(
        open_service: OpenService, clock: FakeClock) -> None:
    secret = Secret("fixed")
    service = await open_service(agent_grace=GRACE, secret=secret)
    _, customer = await with_ada(service)
    await service.close()
    service = await open_service(agent_grace=GRACE, secret=secret, forget=True)
    clock.advance(GRACE + 1)
    await service.sweep()
    record = await service.customers.get(customer.conversation_id)
    assert (record.state, record.agent_id) == (State.QUEUED, None)


async def test_a_conversation_transferred_by_name_to_an_agent_who_does_not_answer_goes_to_anyone(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service()
    ada, customer = await with_ada(service, "Grace knows more about this.")
    grace = await Agent.sign_in(service, "grace")
    await service.desk.transfer(ada.principal, customer.conversation_id, agent_id=grace.id)
    assert (await customer.record()).agent_id == grace.id
    await ada.presence("away")
    linus = await Agent.sign_in(service, "linus")
    clock.advance(61)  # grace never answers
    await service.sweep()
    record = await customer.record()
    assert (record.agent_id, record.requested_agent) == (linus.id, None)


async def test_a_conversation_transferred_by_name_to_an_agent_who_is_gone_goes_to_anyone(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(agent_grace=GRACE)
    ada, customer = await with_ada(service, "Grace knows more about this.")
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")
    await service.desk.seen(grace.principal)  # her console closes while she is away
    linus = await Agent.sign_in(service, "linus")
    await linus.presence("away")
    await service.desk.transfer(ada.principal, customer.conversation_id, agent_id=grace.id)
    await ada.presence("away")
    await linus.presence("online")
    assert (await customer.record()).requested_agent == grace.id  # it waits for her...
    clock.advance(GRACE + 1)
    await service.sweep()
    record = await customer.record()  # ... until she is gone: then anyone may take it
    assert (record.agent_id, record.requested_agent) == (linus.id, None)


async def test_a_waiting_customer_with_a_live_socket_is_never_abandoned(open_service: OpenService,
                                                                      clock: FakeClock) -> None:
    service = await open_service()
    (customer,) = await escalated(service)  # nobody online: it waits
    cid = customer.conversation_id
    await service.customers.presence(cid, connected=True)  # two tabs
    await service.customers.presence(cid, connected=True)
    await service.customers.presence(cid, connected=False)  # one closes
    for _ in range(60):  # the other stays: its queue refresh says so every HANDOFF_QUEUE_REFRESH seconds
        clock.advance(service.settings.queue_refresh)
        await service.customers.still_here(cid)
        await service.sweep()
    assert (await customer.record()).state is State.QUEUED
    await service.customers.presence(cid, connected=False)  # the last one closes
    clock.advance(service.settings.abandon_after + 1)
    await service.sweep()
    assert (await customer.record()).state is State.ABANDONED
