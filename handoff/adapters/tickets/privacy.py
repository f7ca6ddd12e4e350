"""A customer's data as a whole: finding it, exporting it, erasing it, and the retention sweep.

What erasing a customer (a request to delete their data) does, in one transaction:

- deleted: the messages of every conversation of theirs (the transcripts), their linked channel identities
  (``channel_identities``: e-mail addresses, IM accounts), their e-mails in and out (the
  addresses, subjects and bodies: ``mail_messages``), their instant messages (the addresses and texts:
  ``im_messages``) and the agents' notes on their tickets, and the notes
  supervisors left on their follow-up items, and their messages in the NLU inbox (trainer-confirmed examples
  too: their words leave the training data file at its next write), and the practice scenarios made of their
  conversations (masked, yet their words; the sessions agents practised on them stay, with their scores),
  the trainers' decisions on their
  messages as knowledge gaps (``knowledge_gaps``; a published article keeps no customer words);
- blanked: the QA reviewers' notes and comments on their conversations (they may quote the customer; the
  scores stay);
- blanked: on each of their tickets the summary, the bot's hand-off request (it quotes the customer), the
  callback promised out of hours (it holds their e-mail) and the tags; on their customer record the name,
  e-mail, shop id (``external_id``) and lifetime value;
- blanked: the comments of their ratings and votes (kept, anonymous, with their scores), which no longer
  point at the messages they judged;
- marked: each of their conversations as erased (``erased_at``), so a restart never files it again;
- kept, anonymous: the customer record's random id, the conversations' and tickets' rows (number, channel,
  state, status, priority, tier, category, the reason codes, times, assignee) and the state transitions (who
  owned the conversation when, and why): what the KPIs are computed from, with nothing to tell who it was.

The retention sweep (``HANDOFF_RETENTION_DAYS``) deletes conversations not touched since the cutoff whole,
rows included (messages, transitions, tickets with their notes and assignments, feedback and its
follow-ups with their notes, QA reviews with their scores, practice scenarios, NLU inbox items that are no
trainer-confirmed example; the examples stay as training data, detached from the conversation; trainers'
decisions on knowledge gaps), and then the customers created before the cutoff that have no conversation left,
with their linked channel identities.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from handoff.adapters.tickets.analytics import forget_examples
from handoff.adapters.tickets.database import Repository, utc
from handoff.adapters.tickets.identities import identities_of
from handoff.adapters.tickets.inbox import inbox_deletions, inbox_erasures
from handoff.adapters.tickets.knowledge import knowledge_gap_deletions
from handoff.adapters.tickets.models import (
    Conversation,
    Customer,
    Feedback,
    FollowUp,
    ImMessage,
    MailMessage,
    Message,
    Note,
    Ticket,
    TicketAssignment,
    Transition,
)
from handoff.adapters.tickets.people import customer_view
from handoff.adapters.tickets.practice import practice_deletions
from handoff.adapters.tickets.quality import qa_deletions, qa_erasures
from handoff.adapters.tickets.views import CustomerView, iso
from handoff.core.model import ConversationId, CustomerId


class CustomerRecords(Repository):
    """A customer's data as a whole (a repository of :class:`~handoff.adapters.tickets.TicketLog`)."""

    async def find(self, *, conversation_id: str | None = None, external_id: str | None = None,
                   email: str | None = None) -> list[CustomerView]:
        """The customers with that conversation, shop id or e-mail (any case), oldest first."""
        query = select(Customer)
        if conversation_id is not None:
            query = query.join(Conversation, Conversation.customer_id == Customer.id).where(
                Conversation.id == conversation_id)
        if external_id is not None:
            query = query.where(Customer.external_id == external_id)
        if email is not None:
            query = query.where(func.lower(Customer.email) == email.strip().lower())
        async with self._sessions() as session:
            return [customer_view(row) for row in await session.scalars(query.order_by(Customer.created_at))]

    async def conversations_of(self, customer_id: CustomerId) -> list[dict[str, Any]]:
        """The customer's conversations, oldest first, as the export shows them (without their messages)."""
        query = select(Conversation).where(Conversation.customer_id == customer_id).order_by(Conversation.created_at)
        async with self._sessions() as session:
            return [{"conversation_id": row.id, "channel": row.channel, "state": row.state,
                     "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}
                    for row in await session.scalars(query)]

    async def tickets_of(self, customer_id: CustomerId) -> list[int]:
        """The ids of the customer's tickets, oldest first."""
        query = select(Ticket.id).where(Ticket.customer_id == customer_id).order_by(Ticket.id)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def erase(self, customer_id: CustomerId) -> list[ConversationId]:
        """Erase the customer's data as the module docstring says; return their conversations' ids."""
        conversations = select(Conversation.id).where(Conversation.customer_id == customer_id)
        tickets = select(Ticket.id).where(Ticket.customer_id == customer_id)
        async with self._sessions.begin() as session:
            ids = [ConversationId(c) for c in await session.scalars(conversations)]
            await session.execute(update(Feedback).where(Feedback.conversation_id.in_(conversations)).values(
                comment=None, message_id=None))
            for statement in [*inbox_erasures(conversations), *knowledge_gap_deletions(conversations)]:
                await session.execute(statement)  # before the messages they point at
            await session.execute(delete(MailMessage).where(MailMessage.conversation_id.in_(conversations)))
            await session.execute(delete(ImMessage).where(ImMessage.conversation_id.in_(conversations)))
            await session.execute(delete(Message).where(Message.conversation_id.in_(conversations)))
            await session.execute(delete(Note).where(Note.ticket_id.in_(tickets)))
            for statement in [*qa_erasures(conversations), *practice_deletions(conversations)]:
                await session.execute(statement)
            await forget_examples(session, ids)
            await session.execute(update(Ticket).where(Ticket.customer_id == customer_id).values(
                summary="", request=None, callback=None, tags=[]))
            await session.execute(identities_of(select(Customer.id).where(Customer.id == customer_id)))
            await session.execute(update(Customer).where(Customer.id == customer_id).values(
                name=None, email=None, external_id=None, lifetime_value=0.0))
            await session.execute(update(Conversation).where(Conversation.customer_id == customer_id).values(
                erased_at=utc(time.time())))
        return ids

    async def delete_older_than(self, cutoff: datetime | float) -> tuple[list[ConversationId], int]:
        """Delete every conversation last touched before ``cutoff`` with everything of it, then the customers
        created before it that have no conversation left; return the conversations' ids and how many
        customers went."""
        moment = utc(cutoff)
        old = select(Conversation.id).where(Conversation.updated_at < moment)
        tickets = select(Ticket.id).where(Ticket.conversation_id.in_(old))
        async with self._sessions.begin() as session:
            ids = [ConversationId(c) for c in await session.scalars(old)]
            if ids:
                statements = [*qa_deletions(old), *inbox_deletions(old), *practice_deletions(old),
                              *knowledge_gap_deletions(old),
                              delete(Note).where(Note.ticket_id.in_(tickets)),
                              delete(TicketAssignment).where(TicketAssignment.ticket_id.in_(tickets)),
                              delete(FollowUp).where(FollowUp.conversation_id.in_(old)),
                              delete(Feedback).where(Feedback.conversation_id.in_(old)),
                              delete(Ticket).where(Ticket.conversation_id.in_(old)),
                              delete(MailMessage).where(MailMessage.conversation_id.in_(old)),
                              delete(ImMessage).where(ImMessage.conversation_id.in_(old)),
                              delete(Message).where(Message.conversation_id.in_(old)),
                              delete(Transition).where(Transition.conversation_id.in_(old))]
                for statement in statements:  # children first: the foreign keys hold at every step
                    await session.execute(statement)
                await forget_examples(session, ids)
                await session.execute(delete(Conversation).where(Conversation.updated_at < moment))
            unused = select(Customer.id).where(
                Customer.created_at < moment,
                ~select(Conversation.id).where(Conversation.customer_id == Customer.id).exists(),
                ~select(Ticket.id).where(Ticket.customer_id == Customer.id).exists())
            customers = list(await session.scalars(unused))
            if customers:
                await session.execute(identities_of(select(Customer.id).where(Customer.id.in_(customers))))
                await session.execute(delete(Customer).where(Customer.id.in_(customers)))
        return ids, len(customers)
