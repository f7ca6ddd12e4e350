"""Recovery: a restart (an empty live store: a new process embedded, a Redis that kept nothing in production)
forgets no conversation, and a message stored but never answered or never published is not dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from starlette.datastructures import Secret

from handoff.adapters.tickets.models import Base
from handoff.core.errors import NotAuthenticated, UpstreamUnavailable
from handoff.core.model import State
from handoff.service import HandoffService
from handoff.service.auth import session_id, widget_signature
from handoff.service.ports import Event, Store
from tests.handoff.adapters.store.conftest import delete_keys
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import T0, Agent, Customer, FakeClock, FakeRasa

SECRET = Secret("a-fixed-secret-so-tokens-outlive-the-process")
SHOWN = ("state", "customer", "priority", "tier", "category", "queued_at", "assigned_at", "accept_deadline",
         "agent_id", "ticket_id", "reasons", "rank", "position")


async def restart(open_service: OpenService, service: HandoffService, **settings: Any) -> HandoffService:
    await service.close()
    return await open_service(forget=True, secret=SECRET, **settings)


def shown(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: s[key] for key in SHOWN} for s in summaries]


async def test_a_restart_forgets_no_conversation(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(secret=SECRET, agent_grace=600.0)
    ada = await Agent.sign_in(service, "ada")  # the only one online
    talking = await Customer.start(service, name="Tess Ng", email="tess@example.com")
    await talking.say("I want a person")
    await ada.say(talking.conversation_id, "Hello Tess, how can I help?")
    silent = await Customer.start(service)
    await silent.say("a person please")  # ada has it, and has not answered yet
    await ada.presence("away")
    waiting = []
    for text in ("a person please", "I am furious", "can I talk to a human"):
        clock.advance(5)
        waiting.append(await Customer.start(service, name=f"Waiting {len(waiting)}"))
        await waiting[-1].say(text)
    with_bot = await Customer.start(service)
    await with_bot.say("how much is shipping?")
    everyone = [talking, silent, *waiting, with_bot]
    tokens = {c.conversation_id: service.customers.token(c.conversation_id) for c in everyone}
    records = {c.conversation_id: await c.record() for c in everyone}
    transcripts = {c.conversation_id: await service.customers.history(c.conversation_id) for c in everyone}
    queue, mine = shown(await service.desk.queue(ada.principal)), shown(await service.desk.mine(ada.principal))
    assert len(queue) == 3 and len(mine) == 2

    service = await restart(open_service, service, agent_grace=600.0)

    for customer in everyone:
        cid = customer.conversation_id
        await service.customers.check_token(cid, tokens[cid])  # the widget's key still opens it
        record, was = await service.customers.get(cid), records[cid]
        assert (record.state, record.agent_id, record.answered, record.ticket_id, record.customer_name,
                record.reasons, record.rank) == (was.state, was.agent_id, was.answered, was.ticket_id,
                                                 was.customer_name, was.reasons, was.rank)
        assert await service.customers.history(cid) == transcripts[cid]
    assert shown(await service.desk.queue(ada.principal)) == queue  # the same conversations, in the same order
    assert shown(await service.desk.mine(ada.principal)) == mine  # ada's are still hers

    clock.advance(61)  # the unanswered one times out as it would have; the answered one stays
    await service.sweep()
    requeued = await service.customers.get(silent.conversation_id)
    assert requeued.state is State.QUEUED and ada.id in requeued.excluded
    assert (await service.customers.get(talking.conversation_id)).agent_id == ada.id
    assert await service.accounts.principal(ada.token) == ada.principal  # her session outlived the restart
    ada = await Agent.sign_in(service, "ada")  # presence lived in the store: she comes online again
    await service.desk.resolve(ada.principal, talking.conversation_id)
    ticket = await service.helpdesk.ticket(ada.principal, records[talking.conversation_id].ticket_id)
    assert (ticket["status"], ticket["resolution"]) == ("resolved", "resolved")
    grace = await Agent.sign_in(service, "grace")
    assert {s["conversation_id"] for s in await service.desk.mine(grace.principal)} | {
        s["conversation_id"] for s in await service.desk.mine(ada.principal)} >= {w.conversation_id for w in waiting}


async def test_a_conversation_transferred_before_the_restart_still_goes_to_the_named_agent(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    customer = await Customer.start(service)
    await customer.say("a person please")
    await ada.say(customer.conversation_id, "Let me pass you to Grace.")
    grace = await Agent.sign_in(service, "grace")
    await grace.presence("away")
    await service.desk.transfer(ada.principal, customer.conversation_id, agent_id=grace.id)
    before = await customer.record()
    assert (before.state, before.requested_agent, before.excluded) == (State.QUEUED, grace.id, {ada.id})

    service = await restart(open_service, service)
    after = await service.customers.get(customer.conversation_id)
    assert (after.state, after.requested_agent, after.excluded) == (State.QUEUED, grace.id, {ada.id})
    await Agent.sign_in(service, "ada")  # online, but the conversation is Grace's to take
    assert (await service.customers.get(customer.conversation_id)).state is State.QUEUED
    await Agent.sign_in(service, "grace")
    assert (await service.customers.get(customer.conversation_id)).agent_id == grace.id


async def test_a_restart_closes_the_ticket_of_a_conversation_that_ended_before_its_ticket_did(
        open_service: OpenService) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    customer = await Customer.start(service)
    await customer.say("a person please")
    record = await customer.record()
    assert record.ticket_id is not None
    # the process dies between the transition's record and the ticket's closing
    await service._log.conversations.record_transition(customer.conversation_id, "assigned", "resolved", "resolved",
                                                       now=1.8e9, actor=ada.id)
    service = await restart(open_service, service)
    ticket = await service.helpdesk.ticket(ada.principal, record.ticket_id)
    assert (ticket["status"], ticket["resolution"]) == ("resolved", "resolved")
    assert (await service.customers.get(customer.conversation_id)).state is State.RESOLVED


async def test_a_message_the_bot_never_answered_is_answered_after_a_restart(
        open_service: OpenService, rasa: FakeRasa) -> None:
    service = await open_service(secret=SECRET)
    customer = await Customer.start(service)
    await service.customers.says(customer.conversation_id, "how much is shipping?", "k1")  # acknowledged...
    # ... and the process dies before the bot's turn
    service = await restart(open_service, service)
    assert [text for _, text, _ in rasa.heard] == ["how much is shipping?"]
    last = (await service.customers.history(customer.conversation_id))[-1]
    assert (last.sender, last.text) == ("bot", "Standard shipping costs $4.95.")
    service = await restart(open_service, service)  # answered now: a second start asks nothing again
    assert len(rasa.heard) == 1


async def test_two_instances_starting_at_once_answer_an_unanswered_message_once(
        open_service: OpenService, rasa: FakeRasa, profile: str) -> None:
    service = await open_service(secret=SECRET)
    customer = await Customer.start(service)
    await service.customers.says(customer.conversation_id, "how much is shipping?", "k1")
    await service.close()
    if profile == "embedded":
        await open_service(forget=True, secret=SECRET)
    else:
        await open_service(forget=True, secret=SECRET)
        await open_service(secret=SECRET)
    assert len(rasa.heard) == 1


@pytest.mark.parametrize("profile", ["production"])  # instances side by side share one Redis
async def test_an_instance_starting_while_another_is_in_the_bots_turn_does_not_answer_twice(
        open_service: OpenService, rasa: FakeRasa, clock: FakeClock) -> None:
    running = await open_service(secret=SECRET)
    customer = await Customer.start(running)
    rasa.hold = asyncio.Event()
    turn = asyncio.create_task(customer.say("how much is shipping?"))  # the bot is thinking...
    while not rasa.heard:
        await asyncio.sleep(0.01)
    asyncio.get_running_loop().call_later(2.0, rasa.hold.set)  # the bot answers in two seconds
    starting = await open_service(secret=SECRET)  # ... when a second instance starts and finds it unanswered
    await turn
    clock.advance(starting.settings.rasa_timeout + 10)
    await starting.sweep()  # it looks again once the turn has had its time: answered by then
    assert [text for _, text, _ in rasa.heard] == ["how much is shipping?"]
    replies = [m for m in await starting.customers.history(customer.conversation_id) if m.sender == "bot"]
    assert len(replies) == 1


class Unpublished:
    """The store, with its bus down for the next ``lost`` publications."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.lost = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def publish_all(self, events: list[tuple[str, Event]]) -> None:
        if self.lost:
            self.lost -= 1
            raise UpstreamUnavailable("The live-state store (Redis) does not answer; try again shortly.")
        await self._store.publish_all(events)


async def test_a_message_stored_but_not_published_is_still_answered_and_read(open_service: OpenService) -> None:
    stores: list[Unpublished] = []
    service = await open_service(wrap_store=lambda store: stores.append(Unpublished(store)) or stores[-1])
    customer = await Customer.start(service)
    stores[0].lost = 1
    said = await customer.say("how much is shipping?")
    reply = await customer.inbox.next(message_from("bot", "$4.95"))  # the bot still answered it
    assert reply["message"]["id"] > said.message.id
    assert not [f for f in customer.inbox.frames if f.get("type") == "message"
                and f["message"]["id"] == said.message.id]  # the bus lost it...
    history = await service.customers.history(customer.conversation_id, after=said.message.id - 1)
    assert history[0].text == "how much is shipping?"  # ... and a reconnecting client reads it from the log
    agent = await Agent.sign_in(service, "grace")
    await customer.say("a person please")
    await agent.inbox.next(of_type("assigned"))
    detail = await service.desk.detail(agent.principal, customer.conversation_id)
    assert "how much is shipping?" in [m["text"] for m in detail["messages"]]


@pytest.mark.parametrize("profile", ["production"])  # only Redis can lose its state under a running service
async def test_a_redis_that_restarts_empty_is_rebuilt_by_the_next_sweep(open_service: OpenService) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    talking = await Customer.start(service)
    await talking.say("a person please")
    await ada.presence("away")
    waiting = await Customer.start(service)
    await waiting.say("a person please")
    queue, mine = shown(await service.desk.queue(ada.principal)), shown(await service.desk.mine(ada.principal))
    await delete_keys(service.settings.key_prefix)  # Redis restarted with nothing on disk
    assert await service.desk.queue(ada.principal) == []
    await service.sweep()
    assert shown(await service.desk.queue(ada.principal)) == queue
    assert shown(await service.desk.mine(ada.principal)) == mine


async def test_a_customer_the_shop_vouched_for_stays_known_across_a_restart(open_service: OpenService,
                                                                             rasa: FakeRasa) -> None:
    """The verified shop id is kept with the customer, so after a restart the bot is still told who is
    asking about their orders (not an anonymous visitor who must prove ownership again)."""
    service = await open_service(secret=SECRET, widget_secret=Secret("shop-secret"))
    expires = int(T0.timestamp()) + 3600
    signed = await service.customers.open(external_id="shop-1001", expires=expires,
                                          signature=widget_signature("shop-secret", "shop-1001", expires))
    anonymous = await service.customers.open()
    service = await restart(open_service, service, widget_secret=Secret("shop-secret"))
    assert (await service.customers.get(signed.conversation_id)).customer_external_id == "shop-1001"
    assert (await service.customers.get(anonymous.conversation_id)).customer_external_id is None


# ---- agents' sessions outlive a restart, and so does their end ------------------------------------------------

async def test_a_signed_in_agent_stays_signed_in_after_a_restart(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    clock.advance(3600)

    service = await restart(open_service, service)
    assert await service.accounts.principal(ada.token) == ada.principal
    service = await restart(open_service, service, session_ttl=7200.0)  # the time left is the first TTL's, not this one's
    assert await service.accounts.principal(ada.token) == ada.principal
    await service.accounts.sign_out(ada.token)
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(ada.token)
    service = await restart(open_service, service)
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(ada.token)


async def _deactivate(service: HandoffService, admin: Agent, agent: Agent) -> None:
    await service.accounts.change(admin.principal, agent.id, {"active": False})


async def _new_role(service: HandoffService, admin: Agent, agent: Agent) -> None:
    await service.accounts.change(admin.principal, agent.id, {"role": "agent"})  # ada was a supervisor


async def _reset_password(service: HandoffService, admin: Agent, agent: Agent) -> None:
    await service.accounts.reset_password(admin.principal, agent.id, "a-brand-new-password")


async def _sign_out(service: HandoffService, admin: Agent, agent: Agent) -> None:
    await service.accounts.sign_out(agent.token)


@pytest.mark.parametrize("end", [_sign_out, _deactivate, _new_role, _reset_password])
async def test_an_ended_session_stays_ended_after_a_restart(open_service: OpenService, end: Any) -> None:
    service = await open_service(secret=SECRET)
    admin, ada = await Agent.sign_in(service, "admin"), await Agent.sign_in(service, "ada")
    other = await Agent.sign_in(service, "ada")  # a second session: ended too, except by signing out
    await end(service, admin, ada)

    service = await restart(open_service, service)
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(ada.token)
    if end is _sign_out:
        assert (await service.accounts.principal(other.token)).agent_id == ada.id
    else:
        with pytest.raises(NotAuthenticated):
            await service.accounts.principal(other.token)
    assert (await service.accounts.principal(admin.token)).agent_id == admin.id


async def test_an_ended_session_in_the_log_is_not_brought_back_by_a_stale_store(open_service: OpenService) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    service = await restart(open_service, service)
    await service._log.people.update_agent(ada.id, active=False)  # deactivated behind the service's back
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(ada.token)  # the log's session is for an inactive agent: refused...
    assert await service._log.people.get_session(ada.principal.session) is None  # ... and deleted


async def test_an_expired_session_is_refused_after_a_restart(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(secret=SECRET, session_ttl=600.0)
    ada = await Agent.sign_in(service, "ada")
    clock.advance(599)
    service = await restart(open_service, service)
    assert (await service.accounts.principal(ada.token)).agent_id == ada.id  # one second left
    clock.advance(1)
    service = await restart(open_service, service)
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(ada.token)
    assert await service._log.people.get_session(ada.principal.session) is None


async def test_expired_sessions_are_deleted_from_the_log(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(secret=SECRET, session_ttl=600.0)
    ada = await Agent.sign_in(service, "ada")
    clock.advance(3600)
    grace = await Agent.sign_in(service, "grace")  # the first sign-in of the hour deletes what expired
    assert await service._log.people.get_session(ada.principal.session) is None
    assert await service._log.people.get_session(grace.principal.session) is not None


async def test_the_database_keeps_no_session_token(open_service: OpenService) -> None:
    service = await open_service(secret=SECRET)
    ada = await Agent.sign_in(service, "ada")
    async with service._log.engine.connect() as connection:
        kept = [str(row) for table in Base.metadata.sorted_tables
                for row in (await connection.execute(select(table))).all()]
        sessions = (await connection.execute(select(Base.metadata.tables["agent_sessions"]))).all()
    assert [row.id for row in sessions] == [session_id(ada.token)] == [ada.principal.session]
    assert not any(ada.token in row for row in kept)


async def test_a_revoked_token_stays_revoked_after_a_restart(open_service: OpenService, clock: FakeClock) -> None:
    """A revocation (an admin's, or a deletion's) is kept in the ticket log: a restart that empties the live
    store does not open the conversation to the old link again; a token issued after it still works."""
    service = await open_service(secret=SECRET)
    customer, other = await Customer.start(service), await Customer.start(service)
    revoked, untouched = (service.customers.token(c.conversation_id) for c in (customer, other))
    await service.customers.revoke_tokens(customer.conversation_id)
    clock.advance(1)
    fresh = service.customers.token(customer.conversation_id)
    service = await restart(open_service, service)
    with pytest.raises(NotAuthenticated):
        await service.customers.check_token(customer.conversation_id, revoked)
    await service.customers.check_token(customer.conversation_id, fresh)
    await service.customers.check_token(other.conversation_id, untouched)
