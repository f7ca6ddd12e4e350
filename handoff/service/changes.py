"""Applying a :class:`~handoff.core.transitions.Change` once the store has made the move.

The part that moved the conversation (with the store's atomic operation that fits) hands the change, the
record before and the record after to :meth:`Changes.record`, which does the rest in one order for every
transition: the ticket's assignee history, the handle time, the transition with its cause in the ticket
log, the ticket's closing, the bot told of a hand-back, the notice to the customer, the customer's state
frame and the consoles' queue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from handoff.core.errors import UpstreamUnavailable
from handoff.core.model import ConversationRecord, moment
from handoff.core.transitions import Change
from handoff.service.board import Board
from handoff.service.ports import Bot, Clock, Store, TicketLog, TransitionNote
from handoff.service.relay import Relay

logger = logging.getLogger(__name__)


def note(change: Change) -> TransitionNote:
    """The transition as the ticket log records it."""
    return TransitionNote(change.before.value, change.after.value, change.cause.value, change.actor,
                          dict(change.details))


def log_transition(conversation_id: str, change: Change) -> None:
    logger.info("conversation %s: %s -> %s (%s)", conversation_id, change.before.value, change.after.value,
                change.cause.value)


class Changes:
    """Records what a change does once the store has made it."""

    def __init__(self, store: Store, log: TicketLog, bot: Bot, relay: Relay, board: Board, clock: Clock) -> None:
        self._store = store
        self._log = log
        self._bot = bot
        self._relay = relay
        self._board = board
        self._clock = clock

    def now(self) -> datetime:
        return moment(self._clock())

    async def record(self, change: Change, before: ConversationRecord, after: ConversationRecord, *,
                     logged: bool = False) -> None:
        """Everything ``change`` does besides the store's move; ``logged``: its transition is in the ticket
        log already (written with the ticket it opened)."""
        ticket_id = before.ticket_id or after.ticket_id
        tickets = self._log.tickets
        if ticket_id is not None and change.assignment_ends is not None:
            await tickets.ticket_unassigned(ticket_id, change.assignment_ends, change.cause.value, self.now())
        if ticket_id is not None and change.assignment_starts is not None:
            await tickets.ticket_assigned(ticket_id, change.assignment_starts, self.now())
        if change.handle_seconds is not None:
            await self._store.record_handle_time(change.handle_seconds)
        if not logged:
            transition = note(change)
            await self._log.conversations.record_transition(
                after.conversation_id, transition.from_state, transition.to_state, transition.cause,
                now=self.now(), actor=transition.actor, details=transition.details)
        log_transition(after.conversation_id, change)
        if ticket_id is not None and change.close_ticket is not None:
            await tickets.close_ticket(ticket_id, change.close_ticket, self.now())
        if change.tell_bot and before.ticket_id is not None:
            await self._tell_bot(before)
        await self.announce(change, after)

    async def announce(self, change: Change, after: ConversationRecord) -> None:
        """What clients hear of a change: the notice and the state frame for the customer, the queue's change
        for the consoles."""
        if change.notice is not None:
            await self._relay.say(after, "system", change.notice)
        await self._relay.to_customer(after.conversation_id, await self._board.state_frame(after))
        await self._board.moved(change.before, after)

    async def _tell_bot(self, record: ConversationRecord) -> None:
        """The bot learns what the customer and the agent said since the hand-off (the ticket's transcript)."""
        ticket = await self._log.tickets.get_ticket(record.ticket_id) if record.ticket_id else None
        if ticket is None:
            return
        human = [(m.sender, m.text, m.created_at.timestamp()) for m in ticket.messages
                 if m.sender in ("customer", "agent") and m.created_at >= ticket.created_at]
        account = await self._log.people.get_agent(record.agent_id) if record.agent_id else None
        try:
            await self._bot.hand_back(record.conversation_id, human, account.name if account else "")
        except UpstreamUnavailable:
            logger.warning("conversation %s: handed back, but the bot could not be told what was said",
                           record.conversation_id)
