"""A customer's data: export it, delete it (the knowledge base tells customers they can ask for both:
data/knowledge/privacy/), and delete what is older than the retention period.

A customer is found by one of their conversations' ids, their shop id (``external_id``) or their e-mail; an
e-mail may match several customer records (anonymous visitors who gave it), and each is exported or deleted.
What deleting keeps, anonymous, for the KPIs is listed in :mod:`handoff.adapters.tickets.privacy` and
docs/security.md. Deleting also forgets the conversations' live records, refuses their tokens and closes
their customers' sockets (4401).
"""

from __future__ import annotations

import logging
from typing import Any

from handoff.core.errors import BadRequest, UnknownConversation
from handoff.core.model import ConversationId, State, moment
from handoff.service import policy
from handoff.service.auth import Principal
from handoff.service.conversations import Conversations
from handoff.service.identities import Identities
from handoff.service.mail import forget_attachments
from handoff.service.ports import Clock, CustomerView, Store, TicketLog
from handoff.service.relay import Relay
from handoff.settings import HandoffSettings

logger = logging.getLogger(__name__)
DAY = 86400.0
PAGE = 500


def cutoff_age(settings: HandoffSettings) -> float:
    """Seconds since a conversation the retention sweep deletes was last touched, at least."""
    return settings.retention_days * DAY


class CustomerData:
    """Export, delete, retention."""

    def __init__(self, settings: HandoffSettings, store: Store, log: TicketLog, relay: Relay,
                 customers: Conversations, clock: Clock, *, identities: Identities | None = None) -> None:
        self._settings = settings
        self._identities = identities
        self._store = store
        self._log = log
        self._relay = relay
        self._customers = customers
        self._clock = clock
        self._next_retention = 0.0

    @staticmethod
    def authorize(caller: Principal) -> None:
        """Raises NotAllowed unless ``caller`` may manage customers' data (the policy: admins only). The
        command line is not asked: whoever runs it holds the database."""
        policy.check(caller.role, policy.Action.MANAGE_CUSTOMER_DATA)

    async def find(self, *, conversation_id: str | None = None, external_id: str | None = None,
                   email: str | None = None) -> list[CustomerView]:
        """The customers one of ``conversation_id``, ``external_id`` or ``email`` names (exactly one).

        Raises:
            BadRequest: none or several of them given.
            UnknownConversation: nobody matches (a 404).
        """
        given = {k: v for k, v in {"conversation_id": conversation_id, "external_id": external_id,
                                   "email": email}.items() if v}
        if len(given) != 1:
            raise BadRequest("Name the customer by one of conversation_id, external_id or email.")
        found = await self._log.customers.find(**given)
        if not found:
            raise UnknownConversation(f"No customer has that {next(iter(given)).replace('_', ' ')}.")
        return found

    async def export(self, **who: str | None) -> dict[str, Any]:
        """Everything the ticket log holds about the customer(s): their record, their linked channel identities
        (channel, address, how and when verified), each conversation with its
        messages and state changes, each ticket with its notes and assignments, their messages in the NLU inbox
        with the trainers' decisions (JSON)."""
        customers = []
        for customer in await self.find(**who):
            conversations = await self._log.customers.conversations_of(customer.customer_id)
            for conversation in conversations:
                conversation_id = conversation["conversation_id"]
                conversation["messages"] = await self._messages(conversation_id)
                conversation["transitions"] = [t.to_json() for t in
                                               await self._log.conversations.transitions(conversation_id)]
            tickets = [await self._log.tickets.get_ticket(t) for t in await self._log.customers.tickets_of(
                customer.customer_id)]
            record = {**customer.to_json(), "external_id": customer.external_id,
                      "created_at": customer.created_at.isoformat()}
            inbox = await self._log.inbox.export([c["conversation_id"] for c in conversations])
            identities = await self._identities.of_customer(customer.customer_id) if self._identities else []
            customers.append({"customer": record, "identities": identities, "conversations": conversations,
                              "tickets": [t.to_json() for t in tickets if t is not None], "nlu_inbox": inbox})
        return {"exported_at": moment(self._clock()).isoformat(), "customers": customers}

    async def _messages(self, conversation_id: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while page := await self._log.conversations.messages(conversation_id, after_id=messages[-1]["id"]
                                                              if messages else 0, limit=PAGE):
            messages.extend(m.to_json() for m in page)
        return messages

    async def delete(self, **who: str | None) -> dict[str, Any]:
        """Erase the customer(s) (:mod:`handoff.adapters.tickets.privacy`) and forget their live
        conversations; the counts of what went."""
        customers = await self.find(**who)
        conversations: list[ConversationId] = []
        for customer in customers:
            conversations += await self._log.customers.erase(customer.customer_id)
        for conversation_id in conversations:
            await self._forget(conversation_id)
        logger.info("customer data deleted: %d customer record(s), %d conversation(s)", len(customers),
                    len(conversations))
        return {"customers": len(customers), "conversations": len(conversations)}

    async def _forget(self, conversation_id: ConversationId, *, revoke: bool = True) -> None:
        """The conversation's live record goes (and with it its place in the queue or an agent's load), so do the
        files its e-mails carried, its tokens are refused (``revoke``), its customers' sockets close."""
        record = await self._store.delete_conversation(conversation_id)
        await forget_attachments(self._settings, conversation_id)  # the files its e-mails carried
        if revoke:
            await self._customers.revoke_tokens(conversation_id)
        if record is not None and record.state is State.QUEUED:
            await self._relay.to_consoles({"type": "queue_exit", "conversation_id": conversation_id,
                                           "version": record.version + 1})

    async def retention(self) -> dict[str, Any]:
        """Delete the conversations not touched for ``HANDOFF_RETENTION_DAYS`` days, whole, and the customers
        of that age left without any; the counts."""
        cutoff = self._clock() - cutoff_age(self._settings)
        conversations, customers = await self._log.customers.delete_older_than(cutoff)
        for conversation_id in conversations:  # their tokens expired long ago (HANDOFF_CUSTOMER_TOKEN_TTL)
            await self._forget(conversation_id, revoke=self._settings.customer_token_ttl > cutoff_age(self._settings))
        if conversations or customers:
            logger.info("retention: %d conversation(s) and %d customer record(s) older than %d days deleted",
                        len(conversations), customers, self._settings.retention_days)
        return {"conversations": len(conversations), "customers": customers, "cutoff": moment(cutoff).isoformat()}

    async def retention_if_due(self) -> None:
        """The sweeper's daily run of :meth:`retention` (the first sweep after start, then once a day)."""
        now = self._clock()
        if now >= self._next_retention:
            self._next_retention = now + DAY
            await self.retention()
