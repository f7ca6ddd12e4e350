"""Customer feedback: asking for a rating when a conversation ends, and keeping the customer's ratings and
votes with what they judged (docs/feedback.md).

When to ask (once per ending, never twice for one):

- an agent resolves the conversation (once per ticket);
- the bot handled it alone and the customer ends it: their message's intent is one of
  ``HANDOFF_FEEDBACK_INTENTS`` (``goodbye``, ``thank``) after at least one other message, or they went quiet
  for ``HANDOFF_FEEDBACK_QUIET`` seconds after at least one message (a customer who closed the page is one who
  went quiet: a socket closing is also what a reload does). Once per stretch with the bot: a request since the
  bot last took the conversation over (its start, a hand-back, the customer coming back) is not repeated.

The request is a ``system`` message whose payload carries ``feedback_request`` (``reason``, ``ticket_id``): it is
stored and published like any message, so every socket of the conversation gets it, a reconnecting widget
catches up on it by message id, the console shows it in the transcript, and it outlives a restart. A claim in
the store (``feedback:...``) makes one instance ask when several see the same ending.

What is kept: :class:`~handoff.adapters.tickets.feedback.Verdict` (path, ticket, agent, channel, category,
intents, article). A rating of 1-2, or a "not helpful" with a comment, opens a follow-up item.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from handoff.core import texts
from handoff.core.errors import BadRequest, HandoffError, StateConflict, UnknownConversation, UpstreamUnavailable
from handoff.core.inbox import intent_of
from handoff.core.model import MAX_FEEDBACK_COMMENT, ConversationRecord, State, moment, storable
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.board import Board
from handoff.service.conversations import UNSENDABLE
from handoff.service.inbox import TrainingInbox
from handoff.service.policy import Action
from handoff.service.ports import Bot, Clock, MessageView, Store, TicketLog, Verdict, citation_of, request_of
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

MAX_COMMENT = MAX_FEEDBACK_COMMENT
LOW_RATING = 2  # a rating at or under this opens a follow-up
QUIET_PASS = 15.0  # seconds between two looks for conversations gone quiet
QUIET_HORIZON = 3600.0  # after a start, conversations quiet for up to this much longer are still asked
CLAIM_TTL = 86400.0  # seconds one ending's claim lasts (after that, the request in the log still says it)
HANDED_OFF = ("queued", "offline")  # states the bot hands a conversation to


def _comment(comment: Any) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise BadRequest("A comment is text.")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise BadRequest(f"That comment is too long: please keep it under {MAX_COMMENT} characters.")
    if UNSENDABLE.search(comment) or not storable(comment):
        raise BadRequest("That comment has characters text cannot carry (control characters, a NUL or a broken "
                         "character encoding).")
    return comment or None


def _score(score: Any) -> int:
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise BadRequest("A rating is a whole number from 1 (very poor) to 5 (excellent).")
    return score


class CustomerFeedback:
    """Ratings and votes: asked for at the end, given by the customer, read by supervisors."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, bot: Bot, relay: Relay,
                 board: Board, clock: Clock, inbox: TrainingInbox | None = None) -> None:
        self._inbox = inbox
        self._settings = settings
        self._store = store
        self._log = log
        self._bot = bot
        self._relay = relay
        self._board = board
        self._clock = clock
        self._next_pass = 0.0  # when to look for quiet conversations next
        self._quiet_until: float | None = None  # how far the last look went

    # ---- the customer ---------------------------------------------------------------------------------

    async def state(self, conversation_id: str) -> dict[str, Any]:
        """What the widget needs: the open rating request (if any), the customer's rating of it, their votes."""
        request = await self._log.feedback.latest_request(conversation_id)
        given = await self._log.feedback.of_conversation(conversation_id)
        rating = next((f for f in given if f.kind == "csat" and request and f.message_id == request.id), None)
        asked = request_of(request) if request else None
        return {"request": {"message_id": request.id, "reason": asked.get("reason")} if request and asked else None,
                "rating": {"score": rating.score, "comment": rating.comment} if rating else None,
                "votes": [{"message_id": f.message_id, "helpful": bool(f.score), "comment": f.comment}
                          for f in given if f.kind == "helpful"]}

    async def rate(self, conversation_id: str, score: Any, comment: Any = None) -> dict[str, Any]:
        """The customer's rating (1-5) of the conversation, answering its newest request; given again while that
        request is the newest, it replaces the first.

        Raises:
            BadRequest: a score out of range, a comment too long or not text.
            StateConflict: nobody has asked for a rating of this conversation.
            UnknownConversation: no such conversation.
        """
        score, comment = _score(score), _comment(comment)
        record = await self._board.conversation(conversation_id)
        request = await self._log.feedback.latest_request(record.conversation_id)
        asked = request_of(request) if request else None
        if request is None or asked is None:
            raise StateConflict("There is nothing to rate yet: we ask for a rating when the conversation ends.",
                                record.state)
        ticket_id = asked.get("ticket_id") if isinstance(asked.get("ticket_id"), int) else None
        citation = await self._log.feedback.latest_citation(record.conversation_id)
        verdict = await self._verdict(record, "csat", score, comment, request.id, ticket_id, citation)
        saved = await self._log.feedback.record(verdict, "low_rating" if score <= LOW_RATING else None,
                                                self._clock())
        logger.info("conversation %s: rated %d (%s)", record.conversation_id, score, verdict.path)
        return saved.to_json()

    async def vote(self, conversation_id: str, message_id: Any, helpful: Any, comment: Any = None) -> dict[str, Any]:
        """The customer's verdict on one of the bot's knowledge answers (helpful or not); given again, it
        replaces the first.

        Raises:
            BadRequest: the message is not a knowledge answer of this conversation, ``helpful`` is not true or
                false, a comment too long or not text.
            UnknownConversation: no such conversation.
        """
        if not isinstance(helpful, bool):
            raise BadRequest("Say whether the answer helped: helpful is true or false.")
        comment = _comment(comment)
        record = await self._board.conversation(conversation_id)
        message = await self._log.feedback.message(record.conversation_id, message_id) if isinstance(
            message_id, int) and not isinstance(message_id, bool) and 0 < message_id < 2**31 else None
        citation = citation_of(message) if message else None
        if citation is None:
            raise BadRequest("Only the assistant's answers from the help centre can be voted on, in your own "
                             "conversation.")
        ticket_id = record.ticket_id or await self._log.feedback.latest_ticket(record.conversation_id)
        verdict = await self._verdict(record, "helpful", int(helpful), comment, int(message_id), ticket_id, citation)
        saved = await self._log.feedback.record(verdict, "not_helpful" if not helpful and comment else None,
                                                self._clock())
        if not helpful and self._inbox is not None:  # the question it answered goes to the NLU inbox
            try:
                await self._inbox.not_helpful(record.conversation_id, int(message_id))
            except HandoffError as exc:
                logger.warning("conversation %s: the NLU inbox missed a question (%s)", record.conversation_id, exc)
            except Exception:
                logger.exception("conversation %s: keeping a question in the NLU inbox failed",
                                 record.conversation_id)
        logger.info("conversation %s: answer %s voted %s", record.conversation_id, message_id,
                    "helpful" if helpful else "not helpful")
        return saved.to_json()

    # ---- supervisors ------------------------------------------------------------------------------------

    async def of_conversation(self, principal: Principal, conversation_id: str) -> list[dict[str, Any]]:
        """Every rating and vote of the conversation with its follow-up, oldest first."""
        policy.check(principal.role, Action.READ_FEEDBACK)
        if not await self._log.conversations.conversation_exists(conversation_id):  # erased ones too
            raise UnknownConversation("There is no conversation with this id.")
        return [f.to_json() for f in await self._log.feedback.of_conversation(conversation_id)]

    # ---- asking -----------------------------------------------------------------------------------------

    async def ask(self, conversation_id: str, reason: str, ticket_id: int | None = None) -> MessageView | None:
        """Ask the customer for a rating now (``reason``: ``resolved``, an ending intent, ``quiet``), once per
        ``ticket_id`` (an agent's resolve) or, without one, once per stretch with the bot; None: asked already."""
        record = await self._board.conversation(conversation_id)
        if ticket_id is not None:
            return await self._ask(record, reason, f"feedback:{record.conversation_id}:ticket:{ticket_id}", ticket_id)
        return await self._ask_in_stretch(record, reason, await self._with_bot_since(record.conversation_id))

    async def _ask_in_stretch(self, record: ConversationRecord, reason: str, since: datetime) -> MessageView | None:
        """Ask unless a request was made since the bot took the conversation over (at ``since``)."""
        request = await self._log.feedback.latest_request(record.conversation_id)
        if request is not None and request.created_at >= since:
            return None
        return await self._ask(record, reason, f"feedback:{record.conversation_id}:bot:{since.timestamp()}", None)

    async def _ask(self, record: ConversationRecord, reason: str, key: str,
                   ticket_id: int | None) -> MessageView | None:
        """Ask, if this instance claims the ending ``key`` first."""
        if not await self._store.claim(key, CLAIM_TTL):
            return None
        logger.info("conversation %s: rating asked (%s)", record.conversation_id, reason)
        return await self._relay.say(record, "system", texts.say(record.language, "feedback_ask"),
                                     payload={"feedback_request": {"reason": reason, "ticket_id": ticket_id}})

    async def resolved(self, record: ConversationRecord, ticket_id: int | None) -> None:
        """An agent resolved the conversation: ask how it went."""
        await self._quietly(self.ask(record.conversation_id, "resolved", ticket_id), record.conversation_id)

    async def bot_answered(self, record: ConversationRecord, parse: dict[str, Any] | None = None) -> None:
        """The bot had its turn in a conversation it owns: if the customer's message ends it (thanks, goodbye)
        after something else was said, ask for a rating. ``parse``: what the NLU made of the message, when the
        caller read it already (else the tracker is read here)."""
        if not self._settings.feedback_intents or record.state is not State.BOT:
            return
        if parse is not None:
            latest = [name] if (name := intent_of(parse)) else []
        else:
            try:
                latest = await self._bot.intents(record.conversation_id, latest=True)
            except UpstreamUnavailable:
                return  # no rating asked this time; silence asks later
        if latest and latest[0] in self._settings.feedback_intents:
            await self._quietly(self._bot_ending(record.conversation_id, latest[0], said_before=1),
                                record.conversation_id)

    async def sweep(self) -> None:
        """Ask for a rating of each conversation with the bot quiet for ``HANDOFF_FEEDBACK_QUIET`` seconds since
        the last look (every ``QUIET_PASS`` seconds; after a start, up to ``QUIET_HORIZON`` back)."""
        now = self._clock()
        if now < self._next_pass:
            return
        self._next_pass = now + QUIET_PASS
        until = now - self._settings.feedback_quiet
        since = self._quiet_until if self._quiet_until is not None else until - QUIET_HORIZON
        self._quiet_until = until
        for conversation_id in await self._log.feedback.quiet_bot_conversations(since, until):
            await self._quietly(self._bot_ending(conversation_id, "quiet", said_before=0), conversation_id)

    async def _bot_ending(self, conversation_id: str, reason: str, said_before: int) -> None:
        """Ask, if the bot owns the conversation and the customer said more than ``said_before`` messages since
        the bot took it over."""
        record = await self._board.conversation(conversation_id)
        if record.state is not State.BOT:
            return
        since = await self._with_bot_since(conversation_id)
        said = [m for m in await self._log.conversations.messages(conversation_id)
                if m.sender == "customer" and m.created_at >= since]
        if len(said) > said_before:
            await self._ask_in_stretch(record, reason, since)  # the stretch just read, not read again

    async def _with_bot_since(self, conversation_id: str) -> datetime:
        """When the bot last took the conversation over (its start, a hand-back, the customer coming back)."""
        moves = [t.created_at for t in await self._log.conversations.transitions(conversation_id)
                 if t.to_state == State.BOT.value]
        return moves[-1] if moves else moment(0)

    @staticmethod
    async def _quietly(asking: Any, conversation_id: str) -> None:
        """Asking for feedback never fails what triggered it (a resolve, the bot's turn, a sweep)."""
        try:
            await asking
        except HandoffError as exc:
            logger.warning("conversation %s: could not ask for a rating (%s)", conversation_id, exc)
        except Exception:
            logger.exception("conversation %s: asking for a rating failed", conversation_id)

    # ---- what a verdict judged ----------------------------------------------------------------------------

    async def _verdict(self, record: ConversationRecord, kind: str, score: int, comment: str | None,
                       message_id: int, ticket_id: int | None, citation: dict[str, Any] | None) -> Verdict:
        """The verdict with what it judged, copied now: the path, the ticket and its agent and category (or the
        cited article's category), the intents seen, the article."""
        ticket = await self._log.tickets.ticket(ticket_id) if ticket_id is not None else None
        agent_id = await self._log.feedback.last_agent(ticket.ticket_id) if ticket else None
        path = await self.path(record.conversation_id)
        intents: list[str]
        try:
            intents = await self._bot.intents(record.conversation_id)
        except UpstreamUnavailable:  # the bot is down: what the hand-off request said, if there was one
            intents = [i["name"] for i in ((ticket.request or {}).get("intents") or [] if ticket else [])
                       if isinstance(i, dict) and isinstance(i.get("name"), str)]
        citation = citation or {}
        return Verdict(record.conversation_id, kind, score, comment, path, record.channel, message_id,
                       ticket_id=ticket.ticket_id if ticket else None, agent_id=agent_id,
                       category=(ticket.category if ticket else None) or citation.get("category"),
                       intents=tuple(intents), article_id=citation.get("article_id"),
                       article_version=citation.get("version"))

    async def path(self, conversation_id: str) -> str:
        """``bot``: nobody but the bot; ``human``: handed to a person at the customer's first message (the bot
        answered nothing); ``handoff``: the bot answered, then a person took over."""
        handoffs = [t for t in await self._log.conversations.transitions(conversation_id)
                    if t.from_state == State.BOT.value and t.to_state in HANDED_OFF]
        if not handoffs:
            return "bot"
        said = [m for m in await self._log.conversations.messages(conversation_id)
                if m.sender == "customer" and m.created_at <= handoffs[0].created_at]
        return "human" if len(said) <= 1 else "handoff"
