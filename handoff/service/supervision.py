"""The supervisors' live board and their actions on conversations (docs/supervisors.md).

The board is a snapshot read on request (``GET /api/board``; the console asks again every few seconds while
the Board tab is shown): the queue, every agent's presence and load and conversations from the live store,
which every instance shares (Redis in production), and how often each ticket was transferred from the ticket
log, in one statement. Nothing of it lives in one process's memory, so any instance answers the same.

At risk, with the reasons (:func:`risks`):

- ``waiting_past_target``: queued longer than ``queue_wait_seconds`` (``handoff/targets.yml``);
- ``negative_sentiment``: the bot handed it off for negative sentiment or a complaint (its reason codes);
- ``transferred_repeatedly``: its ticket was transferred :data:`REPEATED_TRANSFERS` times or more.

Actions (policy action ``supervise``: supervisors and admins):

- watch: the supervisor's console subscribes to the conversation's channel on the store's bus (what the
  customer's sockets hear: every message of the customer, the agent, the bot and the service, and its state)
  and to its whispers; read-only, nobody is told, nothing changes hands;
- whisper: an internal note on the ticket flagged ``whisper``, sent live to the assigned agent's consoles
  (``whisper`` frame) and to the conversation's watchers, never to the customer's channel;
- reassign: to a named agent who is online and has room (a supervisor overrides the routing rules, tier and
  language included, but not capacity: they would only pile work on somebody already full). An assigned
  conversation is transferred (the transition's actor is the supervisor) and then given to the agent at once;
- escalate: the conversation's and the ticket's tier set to 2 or 3; an assigned conversation whose agent is not
  qualified for that tier is transferred to the tier's queue, routed again to qualified agents only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from handoff.core import transitions
from handoff.core.conversation import Cause
from handoff.core.errors import BadRequest, StateConflict
from handoff.core.model import DESK_ROLES, AgentId, ConversationId, ConversationRecord, Presence, State
from handoff.core.targets import Targets
from handoff.core.transitions import Change
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.board import Board, iso, summary
from handoff.service.changes import Changes
from handoff.service.conversations import Conversations
from handoff.service.desk import Desk
from handoff.service.dispatch import Dispatch
from handoff.service.policy import Action
from handoff.service.ports import AgentAccount, Clock, Event, Handler, Store, Subscription, TicketLog
from handoff.service.relay import agent_channel, conversation_channel
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)

REPEATED_TRANSFERS = 2
"""Transfers of one ticket from which the board calls it at risk."""
NEGATIVE_REASONS = frozenset({"negative_sentiment", "complaint"})
"""The bot's hand-off reason codes that say the customer is upset (docs/handoff-payload.md)."""
ESCALATION_TIERS = (2, 3)


def watch_channel(conversation_id: str) -> str:
    """The bus channel of what only a conversation's watchers hear (its whispers)."""
    return f"watch:{conversation_id}"


def risks(record: ConversationRecord, now: float, target_wait: float, transfers: int) -> list[str]:
    """Why the conversation is at risk (empty: it is not)."""
    found = []
    if record.state is State.QUEUED and record.queued_at is not None and now - record.queued_at > target_wait:
        found.append("waiting_past_target")
    if NEGATIVE_REASONS & set(record.reasons):
        found.append("negative_sentiment")
    if transfers >= REPEATED_TRANSFERS:
        found.append("transferred_repeatedly")
    return found


class Supervision:
    """The board's snapshot and the supervisors' actions."""

    def __init__(self, settings: HandoffSettings, targets: Targets, store: Store, log: TicketLog, board: Board,
                 changes: Changes, dispatch: Dispatch, desk: Desk, conversations: Conversations,
                 clock: Clock) -> None:
        self._settings = settings
        self._targets = targets
        self._store = store
        self._log = log
        self._board = board
        self._changes = changes
        self._dispatch = dispatch
        self._desk = desk
        self._conversations = conversations
        self._clock = clock

    # ---- the board ------------------------------------------------------------------------------------

    async def board(self, principal: Principal) -> dict[str, Any]:
        """The queue, every active agent with their conversations, and the conversations at risk."""
        policy.check(principal.role, Action.SUPERVISE)
        now = self._clock()
        queued = await self._store.queued()
        live = {snapshot.agent_id: snapshot for snapshot in await self._store.agents()}
        accounts = [a for a in await self._log.people.list_agents(active_only=True) if a.role in DESK_ROLES]
        assigned = await asyncio.gather(*(self._assigned_to(account.agent_id) for account in accounts))
        theirs = {account.agent_id: records for account, records in zip(accounts, assigned, strict=True)}
        records = queued + [record for records in theirs.values() for record in records]
        transfers = await self._log.supervision.transfers({r.ticket_id for r in records if r.ticket_id is not None})
        target = self._targets.queue_wait_seconds

        def row(record: ConversationRecord) -> dict[str, Any]:
            count = transfers.get(record.ticket_id, 0) if record.ticket_id is not None else 0
            waited = now - record.queued_at if record.state is State.QUEUED and record.queued_at else None
            return {**summary(record, self._settings.accept_timeout),
                    "wait_seconds": None if waited is None else round(waited),
                    "transfers": count, "risks": risks(record, now, target, count)}

        waiting = [row(record) for record in queued]
        agents: list[dict[str, Any]] = []
        for account in accounts:
            snapshot = live.get(account.agent_id)
            agents.append({"id": account.agent_id, "name": account.name, "role": account.role,
                           "tiers": sorted(account.tiers),
                           "presence": (snapshot.presence if snapshot else Presence.OFFLINE).value,
                           "load": snapshot.load if snapshot else 0, "capacity": account.capacity,
                           "conversations": [row(record) for record in theirs[account.agent_id]]})
        at_risk = [r for r in waiting + [c for a in agents for c in a["conversations"]] if r["risks"]]
        at_risk.sort(key=lambda r: (-len(r["risks"]), -(r["wait_seconds"] or 0)))
        longest = max((r["wait_seconds"] for r in waiting if r["wait_seconds"] is not None), default=None)
        return {"now": iso(now), "targets": {"queue_wait_seconds": target},
                "queue": {"length": len(waiting), "longest_wait_seconds": longest,
                          "over_target": sum("waiting_past_target" in r["risks"] for r in waiting)},
                "queued": waiting, "agents": agents, "at_risk": at_risk}

    async def _assigned_to(self, agent_id: AgentId) -> list[ConversationRecord]:
        ids = await self._store.agent_conversations(agent_id)
        found = await asyncio.gather(*(self._store.get_conversation(ConversationId(i)) for i in ids))
        return [record for record in found if record is not None and record.state is State.ASSIGNED]

    # ---- watching ---------------------------------------------------------------------------------------

    async def watch(self, principal: Principal, conversation_id: str,
                    handler: Handler) -> tuple[dict[str, Any], list[Subscription]]:
        """Subscribe ``handler`` to the conversation's events (``watched`` frames, each wrapping what the
        customer's sockets hear, or a whisper), then read it: the ``watching`` frame with its detail, and the
        subscriptions (the caller closes them to stop watching). Events that come while the detail is read are
        delivered too: the console merges them by message id."""
        policy.check(principal.role, Action.SUPERVISE)
        record = await self._conversations.get(conversation_id)
        cid = record.conversation_id

        async def relayed(event: Event) -> None:
            if event.get("type") != "revoked":
                await handler({"type": "watched", "conversation_id": cid, "event": event})

        subscriptions = [await self._store.subscribe(conversation_channel(cid), relayed),
                         await self._store.subscribe(watch_channel(cid), relayed)]
        try:
            detail = await self._desk.detail(principal, cid)
        except BaseException:
            for subscription in subscriptions:
                await subscription.close()
            raise
        logger.info("conversation %s: watched by %s", cid, principal.agent_id)
        return {"type": "watching", "conversation": detail}, subscriptions

    # ---- acting -----------------------------------------------------------------------------------------

    async def whisper(self, principal: Principal, conversation_id: str, text: Any) -> dict[str, Any]:
        """A note only the conversation's agent sees, live; kept on the ticket as an internal note flagged
        ``whisper``."""
        policy.check(principal.role, Action.SUPERVISE)
        text = self._conversations.check_text(text)
        record = await self._conversations.get(conversation_id)
        if record.state is not State.ASSIGNED or record.agent_id is None or record.ticket_id is None:
            raise StateConflict(f"This conversation is {record.state.value}: no agent has it, so there is nobody to "
                                "whisper to. Reassign it first, or leave a note on its ticket.", record.state)
        note = (await self._log.tickets.add_note(record.ticket_id, principal.agent_id, text, self._changes.now(),
                                                 whisper=True)).to_json()
        await self._store.publish_all([
            (agent_channel(record.agent_id), {"type": "whisper", "conversation_id": record.conversation_id,
                                              "note": note}),
            (watch_channel(record.conversation_id), {"type": "whisper", "note": note})])
        logger.info("conversation %s: whisper from %s to %s", record.conversation_id, principal.agent_id,
                    record.agent_id)
        return note

    async def reassign(self, principal: Principal, conversation_id: str, agent_id: Any) -> ConversationRecord:
        """Give the conversation to a named agent now: one online with room, whatever routing would say."""
        policy.check(principal.role, Action.SUPERVISE)
        colleague = await self._colleague(agent_id)
        record = await self._conversations.get(conversation_id)
        if record.state not in (State.QUEUED, State.ASSIGNED):
            raise StateConflict(f"This conversation is {record.state.value}: only a queued or assigned "
                                "conversation can be reassigned.", record.state)
        if record.agent_id == colleague.agent_id:
            raise StateConflict(f"This conversation is {colleague.name}'s already.", record.state)
        snapshot = await self._store.get_agent(colleague.agent_id)
        if snapshot is None or snapshot.presence is not Presence.ONLINE:
            raise StateConflict(f"{colleague.name} is not online: reassign it to someone who is.", record.state)
        if not snapshot.has_room:
            raise StateConflict(f"{colleague.name} has no room ({snapshot.load} of {snapshot.capacity} "
                                "conversations): reassign it to someone else, or wait.", record.state)
        target = colleague.agent_id
        if record.state is State.ASSIGNED:
            record = await self._desk.release(record, self._by(principal, transitions.transfer(
                record, principal.agent_id, to_agent=target)), route=False)
        else:
            record = await self._store.update_conversation(
                record.conversation_id, [State.QUEUED], {"requested_agent": target,
                                                         "excluded": record.excluded - {target}})
        if await self._store.assign(record.conversation_id, target, self._clock()):
            await self._dispatch.assigned(record, target, Cause.ASSIGNED, actor=principal.agent_id,
                                          details={"reassigned_by": principal.agent_id})
        logger.info("conversation %s: reassigned to %s by %s", record.conversation_id, target, principal.agent_id)
        await self._dispatch.dispatch()  # the agent it left has room now
        return await self._conversations.get(conversation_id)

    async def escalate(self, principal: Principal, conversation_id: str, tier: Any) -> ConversationRecord:
        """Set the conversation's and its ticket's tier; requeue it if its agent is not qualified for it."""
        policy.check(principal.role, Action.SUPERVISE)
        if isinstance(tier, bool) or tier not in ESCALATION_TIERS:
            raise BadRequest("Escalate to tier 2 or 3.")
        record = await self._conversations.get(conversation_id)
        if record.state not in (State.QUEUED, State.ASSIGNED) or record.ticket_id is None:
            raise StateConflict(f"This conversation is {record.state.value}: only a queued or assigned "
                                "conversation can be escalated.", record.state)
        if record.tier == tier:
            raise StateConflict(f"This conversation is tier {tier} already.", record.state)
        agent = await self._store.get_agent(record.agent_id) if record.state is State.ASSIGNED and record.agent_id \
            else None
        if record.state is State.ASSIGNED and (agent is None or tier not in agent.tiers):
            after = await self._desk.release(record, self._by(principal, transitions.transfer(
                record, principal.agent_id, to_tier=tier)), route=False)
        else:
            after = await self._store.update_conversation(record.conversation_id, [record.state], {"tier": tier})
            if after.state is State.QUEUED:
                await self._board.moved(State.QUEUED, after)  # consoles show the queued summary's new tier
            elif after.agent_id is not None:
                await self._board.tell_agent(after.agent_id, after)
        await self._log.supervision.set_tier(record.ticket_id, tier, self._clock())
        await self._log.tickets.add_note(record.ticket_id, principal.agent_id,
                                         f"Escalated by hand from tier {record.tier} to tier {tier}.",
                                         self._changes.now())
        logger.info("conversation %s: escalated to tier %s by %s", record.conversation_id, tier, principal.agent_id)
        await self._dispatch.dispatch()
        return await self._conversations.get(conversation_id)

    async def _colleague(self, agent_id: Any) -> AgentAccount:
        if not isinstance(agent_id, str) or not agent_id:
            raise BadRequest("Name the agent to reassign it to.")
        account = await self._log.people.get_agent(AgentId(agent_id))
        if account is None:
            raise BadRequest("There is no agent with this id.")
        if not account.active:
            raise BadRequest("This agent's account is deactivated: reassign it to someone else.")
        return account

    @staticmethod
    def _by(principal: Principal, change: Change) -> Change:
        """The change, marked as a supervisor's."""
        return replace(change, details={**change.details, "by_supervisor": principal.agent_id})
