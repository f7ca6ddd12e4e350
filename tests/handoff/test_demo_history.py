"""The demo history (handoff/cli/demo.py): a small month played through the service leaves a history that holds
together (every conversation's transitions chain from its start to an end, tickets match their transitions,
agents speak only while a conversation is theirs), is written once, and ``--clear`` removes exactly it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

from sqlalchemy import func, select

from handoff.adapters.tickets import TicketLog
from handoff.adapters.tickets.demo import DEMO_DOMAIN
from handoff.adapters.tickets.models import (
    Agent,
    Conversation,
    Customer,
    Feedback,
    Message,
    Ticket,
    TicketAssignment,
    Transition,
)
from handoff.cli.demo_month import demo_history
from handoff.settings import HandoffSettings

ENDS = {"bot", "resolved", "abandoned", "offline"}


async def rows(log: TicketLog, model: type) -> list:  # type: ignore[type-arg]
    async with log.engine.connect() as connection:
        return list(await connection.execute(select(model)))


async def count(log: TicketLog, model: type) -> int:
    async with log.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_small_month_holds_together(database_url: str) -> None:
    settings = replace(HandoffSettings(), database_url=database_url)
    outcome = await demo_history(settings, days=3, conversations=100, seed=7, once=True, progress=lambda _: None)
    assert outcome is not None and outcome.conversations == 100
    log = await TicketLog.open(database_url)
    try:
        conversations = await rows(log, Conversation)
        transitions = await rows(log, Transition)
        tickets = await rows(log, Ticket)
        assignments = await rows(log, TicketAssignment)
        messages = await rows(log, Message)
        agents = {a.id: a.username for a in await rows(log, Agent)}
        customers = {c.id: c for c in await rows(log, Customer)}
    finally:
        await log.close()
    assert len(conversations) == 100
    assert all(customers[c.customer_id].email.endswith("@" + DEMO_DOMAIN) for c in conversations)
    assert len({c.customer_id for c in conversations}) < 100  # some customers came back
    now = datetime.now(UTC)
    by_conversation = defaultdict(list)
    for t in sorted(transitions, key=lambda t: (t.created_at, t.id)):
        by_conversation[t.conversation_id].append(t)
        assert t.created_at <= now
    causes = defaultdict(int)
    for conversation in conversations:
        chain = by_conversation[conversation.id]
        assert (chain[0].from_state, chain[0].to_state, chain[0].cause) == (None, "bot", "started")
        for before, after in pairwise(chain):
            assert after.from_state == before.to_state, (conversation.id, before.cause, after.cause)
        assert chain[-1].to_state in ENDS  # nothing left waiting or assigned
        for t in chain:
            causes[t.cause] += 1
    handoffs = [t for t in transitions if t.from_state == "bot" and t.to_state in ("queued", "offline")]
    assert 15 <= len(handoffs) <= 50 and len(tickets) == len(handoffs) == outcome.handoffs
    assert causes["resolved"] and causes["assigned"] and causes["handoff_requested"]
    by_ticket_state = {t.conversation_id: t for t in tickets}
    for conversation_id, ticket in by_ticket_state.items():
        last = by_conversation[conversation_id][-1]
        expected = {"resolved": "resolved", "abandoned": "abandoned", "offline": "offline", "bot": "resolved"}
        assert ticket.status == expected[last.to_state], (ticket.status, last.to_state)
        assert ticket.request["schema"] == "handoff-request/v2"
        assert ticket.reasons[0]["code"] in {"explicit_request", "low_knowledge_score", "repeated_fallback",
                                             "complaint", "negative_sentiment", "order_lookup_failed",
                                             "out_of_scope", "low_nlu_confidence", "ambiguous_intent", "no_answer"}
    spans = defaultdict(list)
    ticket_conversation = {t.id: t.conversation_id for t in tickets}
    for a in assignments:
        assert agents[a.agent_id] in {"ada", "grace", "linus", "admin"}
        assert a.ended_at is not None and a.assigned_at <= a.ended_at
        spans[(ticket_conversation[a.ticket_id], a.agent_id)].append((a.assigned_at, a.ended_at))
    agent_messages = [m for m in messages if m.sender == "agent"]
    assert agent_messages
    for m in agent_messages:  # an agent speaks only while the conversation is assigned to them
        assert any(start <= m.created_at <= end for start, end in spans[(m.conversation_id, m.agent_id)])
    cited = [m for m in messages if m.sender == "bot" and m.payload and "citation" in m.payload.get("custom", {})]
    assert cited and all({"article_id", "version", "title", "category", "score"} <= set(m.payload["custom"]["citation"])
                         for m in cited)
    assert all(m.sender != "agent" or m.conversation_id in by_ticket_state for m in messages)


async def test_once_then_clear(database_url: str) -> None:
    settings = replace(HandoffSettings(), database_url=database_url)
    first = await demo_history(settings, days=2, conversations=40, seed=1, once=True, progress=lambda _: None)
    assert first is not None
    log = await TicketLog.open(database_url)
    try:
        before = {model.__name__: await count(log, model) for model in (Conversation, Message, Ticket, Customer)}
        assert await demo_history(settings, days=2, conversations=40, once=True, progress=lambda _: None) is None
        assert {model.__name__: await count(log, model) for model in (Conversation, Message, Ticket,
                                                                        Customer)} == before
        seeded_customers = before["Customer"] - await log.demo.demo_customers()
        deleted = await log.demo.delete_demo()
        assert deleted["conversations"] == before["Conversation"] and deleted["messages"] == before["Message"]
        assert await count(log, Conversation) == await count(log, Message) == await count(log, Ticket) == 0
        assert await count(log, Customer) == seeded_customers  # data/demo's customers stay, and the team
        assert await count(log, Agent) == 5  # data/demo/agents.yml: ada, grace, linus, admin, tess
        assert await log.demo.is_empty()
    finally:
        await log.close()


async def test_ratings_and_votes_go_through_the_feedback_part(database_url: str) -> None:
    settings = replace(HandoffSettings(), database_url=database_url)
    outcome = await demo_history(settings, days=3, conversations=120, seed=3, progress=lambda _: None)
    assert outcome is not None
    log = await TicketLog.open(database_url)
    try:
        messages = {m.id: m for m in await rows(log, Message)}
        conversations = {c.id for c in await rows(log, Conversation)}
        given = await rows(log, Feedback)
    finally:
        await log.close()
    ratings = [f for f in given if f.kind == "csat"]
    votes = [f for f in given if f.kind == "helpful"]
    assert outcome.ratings == len(ratings) > 20 and outcome.votes == len(votes) > 0
    scores = [f.score for f in ratings]
    assert all(1 <= s <= 5 for s in scores) and sum(s >= 4 for s in scores) > 0.6 * len(scores)
    assert {f.conversation_id for f in given} <= conversations
    assert {f.path for f in ratings} >= {"bot", "handoff"}
    assert any(f.agent_id is not None for f in ratings if f.path == "handoff")  # the agent who resolved it
    for vote in votes:  # a vote is on the bot's cited answer, and names its article
        voted = messages[vote.message_id]
        assert voted.conversation_id == vote.conversation_id and "citation" in voted.payload["custom"]
        assert vote.article_id == voted.payload["custom"]["citation"]["article_id"]
