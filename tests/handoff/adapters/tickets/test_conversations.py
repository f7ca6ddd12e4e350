"""Conversations, messages (idempotency, the after-id cursor) and transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.views import AgentAccount
from handoff.core.errors import Conflict, UnknownConversation
from handoff.core.model import AgentId, ConversationId, State
from tests.handoff.adapters.tickets.conftest import CUSTOMER, T0, at


async def test_add_message_stores_and_returns_the_wire_shape(log: TicketLog, conversation: ConversationId,
                                                             ada: AgentAccount) -> None:
    customer, new = await log.conversations.add_message(conversation, "customer", "Where is my order?", now=at(1),
                                          client_id="u-1")
    agent, _ = await log.conversations.add_message(conversation, "agent", "Let me look.", now=at(2), agent_id=ada.agent_id)
    bot, _ = await log.conversations.add_message(conversation, "bot", "Choose:", now=at(3), payload={"buttons": [{"title": "A"}]})

    assert new is True
    assert customer.to_json() == {"id": customer.id, "conversation_id": "c_1", "sender": "customer",
                                  "text": "Where is my order?", "agent_name": None, "client_id": "u-1",
                                  "created_at": "2026-11-25T09:00:01.000+00:00", "payload": None}
    assert (agent.agent_id, agent.agent_name) == ("a_ada", "Ada Lovelace")
    assert bot.payload == {"buttons": [{"title": "A"}]}
    stored = await log.conversations.messages(conversation)
    assert [m.to_json() for m in stored] == [customer.to_json(), agent.to_json(), bot.to_json()]
    assert stored[0].created_at == at(1) and stored[0].created_at.tzinfo is not None


async def test_add_message_same_client_id_is_stored_once(log: TicketLog, conversation: ConversationId) -> None:
    first, first_new = await log.conversations.add_message(conversation, "customer", "hello", now=at(1), client_id="u-1")
    again, again_new = await log.conversations.add_message(conversation, "customer", "hello", now=at(5), client_id="u-1")

    assert (first_new, again_new) == (True, False)
    assert again == first
    assert [m.id for m in await log.conversations.messages(conversation)] == [first.id]


async def test_add_message_client_id_is_per_conversation(log: TicketLog, conversation: ConversationId) -> None:
    await log.conversations.create_conversation(ConversationId("c_2"), CUSTOMER, "web", T0)
    _, in_first = await log.conversations.add_message(conversation, "customer", "hi", now=at(1), client_id="u-1")
    _, in_second = await log.conversations.add_message(ConversationId("c_2"), "customer", "hi", now=at(1), client_id="u-1")

    assert (in_first, in_second) == (True, True)


async def test_add_message_concurrent_resends_store_one(log: TicketLog, conversation: ConversationId) -> None:
    results = await asyncio.gather(*(log.conversations.add_message(conversation, "customer", "hello", now=at(1), client_id="u-1")
                                     for _ in range(2)))

    assert sorted(new for _, new in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert len(await log.conversations.messages(conversation)) == 1


async def test_add_message_concurrent_senders_all_stored_in_id_order(log: TicketLog,
                                                                     conversation: ConversationId) -> None:
    await asyncio.gather(*(log.conversations.add_message(conversation, "customer", f"m{i}", now=at(i), client_id=f"u-{i}")
                           for i in range(10)))

    ids = [m.id for m in await log.conversations.messages(conversation)]
    assert len(ids) == 10 and ids == sorted(ids)


async def test_messages_after_cursor_and_limit(log: TicketLog, conversation: ConversationId) -> None:
    stored = [(await log.conversations.add_message(conversation, "customer", f"m{i}", now=at(i)))[0] for i in range(5)]

    after_second = await log.conversations.messages(conversation, after_id=stored[1].id)
    assert [m.text for m in after_second] == ["m2", "m3", "m4"]
    assert [m.text for m in await log.conversations.messages(conversation, after_id=stored[1].id, limit=2)] == ["m2", "m3"]
    assert await log.conversations.messages(conversation, after_id=stored[-1].id) == []
    assert (await log.conversations.last_message(conversation)) == stored[-1]


async def test_last_message_filters_by_sender(log: TicketLog, conversation: ConversationId) -> None:
    assert await log.conversations.last_message(conversation) is None
    said, _ = await log.conversations.add_message(conversation, "customer", "question", now=at(1))
    await log.conversations.add_message(conversation, "bot", "answer", now=at(2))

    assert await log.conversations.last_message(conversation, sender="customer") == said


async def test_messages_ids_grow_across_conversations(log: TicketLog, conversation: ConversationId) -> None:
    await log.conversations.create_conversation(ConversationId("c_2"), CUSTOMER, "web", T0)
    a, _ = await log.conversations.add_message(conversation, "customer", "a", now=at(1))
    b, _ = await log.conversations.add_message(ConversationId("c_2"), "customer", "b", now=at(2))
    c, _ = await log.conversations.add_message(conversation, "customer", "c", now=at(3))

    assert a.id < b.id < c.id
    assert [m.text for m in await log.conversations.messages(conversation)] == ["a", "c"]


async def test_add_message_unknown_conversation_raises(log: TicketLog) -> None:
    with pytest.raises(UnknownConversation):
        await log.conversations.add_message(ConversationId("c_nope"), "customer", "hi", now=at(1), client_id="u-1")


async def test_create_conversation_twice_raises_conflict(log: TicketLog, conversation: ConversationId) -> None:
    with pytest.raises(Conflict):
        await log.conversations.create_conversation(conversation, CUSTOMER, "web", at(1))


async def test_create_conversation_creates_an_unknown_customer(log: TicketLog) -> None:
    await log.conversations.create_conversation(ConversationId("c_9"), CUSTOMER, "email", T0.timestamp())

    customer = await log.people.get_customer(CUSTOMER)
    assert customer is not None and (customer.language, customer.value_tier) == ("en", "standard")
    assert customer.created_at == T0


async def test_create_conversation_with_a_cause_records_its_first_transition(log: TicketLog) -> None:
    await log.conversations.create_conversation(ConversationId("c_2"), CUSTOMER, "web", T0, cause="started")

    (first,) = await log.conversations.transitions(ConversationId("c_2"))
    assert (first.from_state, first.to_state, first.cause, first.created_at) == (None, State.BOT, "started", T0)
    stored = await log.conversations.conversation(ConversationId("c_2"))
    assert stored is not None and stored.state is State.BOT


async def test_record_transition_keeps_time_cause_and_state(log: TicketLog, conversation: ConversationId,
                                                            ada: AgentAccount) -> None:
    await log.conversations.record_transition(conversation, None, State.BOT, "started", now=T0)
    await log.conversations.record_transition(conversation, State.BOT, State.QUEUED, "handoff_requested", now=at(10),
                                actor="bot", details={"ticket_id": 1, "tier": 2})
    await log.conversations.record_transition(conversation, "queued", "assigned", "routed", now=at(40), actor=ada.agent_id)

    found = await log.conversations.transitions(conversation)
    assert [(t.from_state, t.to_state, t.cause, t.actor, t.created_at) for t in found] == [
        (None, State.BOT, "started", None, T0),
        (State.BOT, State.QUEUED, "handoff_requested", "bot", at(10)),
        (State.QUEUED, State.ASSIGNED, "routed", "a_ada", at(40)),
    ]
    assert found[1].details == {"ticket_id": 1, "tier": 2}
    assert found[1].to_json()["created_at"] == "2026-11-25T09:00:10.000+00:00"


async def test_record_transition_unknown_raises(log: TicketLog) -> None:
    with pytest.raises(UnknownConversation):
        await log.conversations.record_transition(ConversationId("c_nope"), State.BOT, State.QUEUED, "x", now=at(1))


async def test_naive_datetime_is_refused(log: TicketLog, conversation: ConversationId) -> None:
    with pytest.raises(ValueError, match="naive"):
        await log.conversations.add_message(conversation, "customer", "hi", now=T0.replace(tzinfo=None))


async def test_add_message_batch_mixes_conversations_resends_and_unknown_ids(log: TicketLog,
                                                                             conversation: ConversationId,
                                                                             ada: AgentAccount) -> None:
    # Handed in together, these share transactions (handoff.adapters.tickets.message_writer): each caller still gets
    # its own answer, a resend within the batch or of an earlier message is stored once, and an unknown
    # conversation fails only its own message.
    await log.conversations.create_conversation(ConversationId("c_2"), CUSTOMER, "web", T0)
    earlier, _ = await log.conversations.add_message(conversation, "customer", "earlier", now=at(1), client_id="u-0")
    calls = [log.conversations.add_message(conversation if i % 2 else ConversationId("c_2"), "customer", f"m{i}", now=at(2),
                             client_id=f"u-{i}") for i in range(1, 41)]
    calls += [log.conversations.add_message(conversation, "customer", "m1 again", now=at(3), client_id="u-1"),
              log.conversations.add_message(conversation, "customer", "earlier again", now=at(3), client_id="u-0"),
              log.conversations.add_message(ConversationId("c_nope"), "customer", "lost?", now=at(3)),
              log.conversations.add_message(conversation, "agent", "Ada here", now=at(3), agent_id=ada.agent_id)]
    results = await asyncio.gather(*calls, return_exceptions=True)

    assert all(new is True for _, new in results[:40])  # type: ignore[misc]
    assert results[40] == (results[0][0], False)  # type: ignore[index]
    assert results[41] == (earlier, False)
    assert isinstance(results[42], UnknownConversation)
    agent_message, agent_new = results[43]  # type: ignore[misc]
    assert agent_new and agent_message.agent_name == "Ada Lovelace"
    first = await log.conversations.messages(conversation)
    assert [m.text for m in first] == ["earlier", *(f"m{i}" for i in range(1, 41, 2)), "Ada here"]
    assert [m.id for m in first] == sorted(m.id for m in first)
    assert len(await log.conversations.messages(ConversationId("c_2"))) == 20


async def test_add_message_bad_message_in_a_batch_fails_alone(log: TicketLog, conversation: ConversationId) -> None:
    # An agent id the log does not know breaks the foreign key: the batch is written again message by message.
    results = await asyncio.gather(
        log.conversations.add_message(conversation, "customer", "before", now=at(1)),
        log.conversations.add_message(conversation, "agent", "ghost", now=at(1), agent_id=AgentId("a_nobody")),
        log.conversations.add_message(conversation, "customer", "after", now=at(1)),
        return_exceptions=True)

    assert isinstance(results[1], Exception)
    assert [m.text for m in await log.conversations.messages(conversation)] == ["before", "after"]


async def test_add_message_cancelled_caller_still_stores(log: TicketLog, conversation: ConversationId) -> None:
    task = asyncio.ensure_future(log.conversations.add_message(conversation, "customer", "keep me", now=at(1), client_id="k"))
    await asyncio.sleep(0)
    task.cancel()
    await log.close()  # waits for what was handed in

    reopened = await TicketLog.open(str(log.engine.url))
    try:
        assert [m.text for m in await reopened.conversations.messages(conversation)] == ["keep me"]
    finally:
        await reopened.close()
