"""Conversations, their messages and their state transitions: the transcript half of the ticket log."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.adapters.tickets.database import Repository, Sessions, changed_rows, utc
from handoff.adapters.tickets.message_writer import MessageWriter, stored_messages, stored_view
from handoff.adapters.tickets.models import Conversation, Customer, Message, Transition
from handoff.adapters.tickets.views import ConversationView, MessageView, TransitionView
from handoff.core.errors import Conflict, UnknownConversation
from handoff.core.model import AgentId, ConversationId, CustomerId, State

logger = logging.getLogger(__name__)


def transition_view(row: Transition) -> TransitionView:
    return TransitionView(id=row.id, conversation_id=ConversationId(row.conversation_id),
                          from_state=State(row.from_state) if row.from_state else None,
                          to_state=State(row.to_state), cause=row.cause, actor=row.actor, details=row.details,
                          created_at=row.created_at)


async def read_last_message(session: AsyncSession, conversation_id: str,
                            sender: str | None = None) -> MessageView | None:
    """The conversation's newest message (from ``sender`` only, if given), or None, in the caller's session."""
    query = stored_messages().where(Message.conversation_id == conversation_id)
    if sender is not None:
        query = query.where(Message.sender == sender)
    row = (await session.execute(query.order_by(Message.id.desc()).limit(1))).first()
    return None if row is None else stored_view(row)


async def add_transition(session: AsyncSession, conversation_id: str, from_state: State | str | None,
                         to_state: State | str, cause: str, moment: datetime, actor: str | None,
                         details: Mapping[str, Any] | None) -> Transition:
    """Record a transition in the caller's transaction (see :meth:`ConversationLog.record_transition`).

    Raises:
        UnknownConversation: no conversation has that id.
    """
    if not await changed_rows(session, update(Conversation).where(Conversation.id == conversation_id)
                              .values(state=State(to_state).value, updated_at=moment)):
        raise UnknownConversation(f"There is no conversation {conversation_id}.")
    row = Transition(conversation_id=conversation_id,
                     from_state=State(from_state).value if from_state is not None else None,
                     to_state=State(to_state).value, cause=cause, actor=actor,
                     details=dict(details) if details is not None else None, created_at=moment)
    session.add(row)
    await session.flush()
    return row


def conversation_view(row: Conversation) -> ConversationView:
    return ConversationView(ConversationId(row.id), CustomerId(row.customer_id), row.channel, State(row.state),
                            row.created_at, row.updated_at, row.erased_at is not None)


class ConversationLog(Repository):
    """Conversations, messages and transitions (a repository of :class:`~handoff.adapters.tickets.TicketLog`).

    Messages go through the log's one :class:`~handoff.adapters.tickets.message_writer.MessageWriter` (group
    commits); everything else runs in its own short transaction.
    """

    def __init__(self, sessions: Sessions, writer: MessageWriter) -> None:
        super().__init__(sessions)
        self._writer = writer

    async def create_conversation(self, conversation_id: ConversationId, customer_id: CustomerId, channel: str,
                                  now: datetime | float, *, cause: str | None = None) -> None:
        """Record a new conversation in state ``bot``; with ``cause``, also its first transition (from no state
        to ``bot``), in the same transaction: the opening of a conversation is one round trip, not two.

        A customer id the log does not know gets a bare customer record (language ``en``, tier ``standard``),
        so that an anonymous visitor needs no separate call.

        Raises:
            Conflict: the conversation id is taken.
        """
        moment = utc(now)
        for attempt in (1, 2):  # a second try when a concurrent call created the same new customer first
            try:
                async with self._sessions.begin() as session:
                    if await session.get(Customer, customer_id) is None:
                        session.add(Customer(id=customer_id, language="en", value_tier="standard",
                                             lifetime_value=0.0, created_at=moment))
                        await session.flush()
                    session.add(Conversation(id=conversation_id, customer_id=customer_id, channel=channel,
                                             state=State.BOT.value, created_at=moment, updated_at=moment))
                    if cause is not None:
                        await session.flush()  # the conversation's row first: the transition points at it
                        session.add(Transition(conversation_id=conversation_id, from_state=None,
                                               to_state=State.BOT.value, cause=cause, created_at=moment))
                return
            except IntegrityError as error:
                if await self.conversation_exists(conversation_id):
                    raise Conflict(f"The conversation {conversation_id} already exists.") from error
                if attempt == 2:
                    raise

    async def add_message(self, conversation_id: ConversationId, sender: str, text: str, *,
                          now: datetime | float, agent_id: AgentId | None = None,
                          payload: Mapping[str, Any] | None = None,
                          client_id: str | None = None) -> tuple[MessageView, bool]:
        """Store a message, once per ``(conversation, client_id)``; returns when it is committed.

        Messages handed in together share a transaction (:mod:`handoff.adapters.tickets.message_writer`); within a
        conversation, ids grow in the order of the calls.

        Returns:
            The stored message and True, or, when the conversation already has a message with this
            ``client_id``, that message and False (nothing stored).

        Raises:
            UnknownConversation: no conversation has that id.
        """
        return await self._writer.add(conversation_id, sender, text, utc(now), agent_id=agent_id, payload=payload,
                                      client_id=client_id)

    async def messages(self, conversation_id: str, after_id: int = 0,
                       limit: int = 500) -> list[MessageView]:
        """The conversation's messages with ids above ``after_id``, oldest first, at most ``limit``."""
        query = (stored_messages().where(Message.conversation_id == conversation_id, Message.id > after_id)
                 .order_by(Message.id).limit(limit))
        async with self._sessions() as session:
            return [stored_view(row) for row in await session.execute(query)]

    async def last_message(self, conversation_id: str, sender: str | None = None) -> MessageView | None:
        """The conversation's newest message (from ``sender`` only, if given), or None."""
        async with self._sessions() as session:
            return await read_last_message(session, conversation_id, sender)

    async def conversation_exists(self, conversation_id: str) -> bool:
        async with self._sessions() as session:
            return bool(await session.scalar(select(exists().where(Conversation.id == conversation_id))))

    async def revoke_tokens(self, conversation_id: str, now: datetime | float) -> None:
        """Remember that the conversation's customer tokens issued until ``now`` are refused."""
        async with self._sessions.begin() as session:
            await session.execute(update(Conversation).where(Conversation.id == conversation_id)
                                  .values(tokens_revoked_at=utc(now)))

    async def tokens_revoked_at(self, conversation_id: str) -> datetime | None:
        """When the conversation's customer tokens were last revoked, or None."""
        async with self._sessions() as session:
            return await session.scalar(select(Conversation.tokens_revoked_at)
                                        .where(Conversation.id == conversation_id))

    async def conversation(self, conversation_id: str) -> ConversationView | None:
        """The conversation as the log keeps it, or None."""
        async with self._sessions() as session:
            row = await session.get(Conversation, conversation_id)
        return None if row is None else conversation_view(row)

    async def in_states(self, states: Collection[State]) -> list[ConversationView]:
        """The conversations whose latest state is one of ``states``, oldest first."""
        query = (select(Conversation).where(Conversation.state.in_([State(s).value for s in states]),
                                            Conversation.erased_at.is_(None))
                 .order_by(Conversation.created_at, Conversation.id))
        async with self._sessions() as session:
            return [conversation_view(row) for row in await session.scalars(query)]

    async def awaiting_bot(self, since: datetime | float) -> list[MessageView]:
        """Customer messages said since ``since`` that are the newest of a conversation the bot owns: the
        bot's turn on them never finished (the process died, or the turn failed), oldest first."""
        newest = (select(func.max(Message.id)).join(Conversation, Conversation.id == Message.conversation_id)
                  .where(Conversation.state == State.BOT.value, Message.created_at >= utc(since))
                  .group_by(Message.conversation_id))
        query = (stored_messages().where(Message.id.in_(newest.scalar_subquery()), Message.sender == "customer")
                 .order_by(Message.id))
        async with self._sessions() as session:
            return [stored_view(row) for row in await session.execute(query)]

    async def record_transition(self, conversation_id: ConversationId, from_state: State | str | None,
                                to_state: State | str, cause: str, *, now: datetime | float, actor: str | None = None,
                                details: Mapping[str, Any] | None = None) -> TransitionView:
        """Record a change of owner with its time and cause; the conversation's stored state follows it.

        Args:
            cause: why, in a word (``handoff_requested``, ``assigned``, ``accept_timeout``, ``resolved``...).
            actor: who caused it (an agent id, ``customer``, ``bot``, ``system``), if anyone.
            details: anything worth keeping for QA (the routing decision's scores, a transfer target...).

        Raises:
            UnknownConversation: no conversation has that id.
        """
        async with self._sessions.begin() as session:
            return transition_view(await add_transition(session, conversation_id, from_state, to_state, cause,
                                                        utc(now), actor, details))

    async def transitions(self, conversation_id: str) -> list[TransitionView]:
        """The conversation's transitions, oldest first."""
        query = select(Transition).where(Transition.conversation_id == conversation_id).order_by(Transition.id)
        async with self._sessions() as session:
            return [transition_view(row) for row in await session.scalars(query)]
