"""REST endpoints of the NLU inbox (docs/training.md): the customer messages the bot was unsure about, grouped by
near-duplicate, and the trainers' decisions on them.

Reading needs the policy's ``read_inbox``, deciding ``label_inbox`` (trainers, supervisors, admins). A decision
names the items (a group's, or one) and is one of ``label`` (with an intent), ``out_of_scope``, ``dismiss``,
``reopen``; the answer says how many changed and what was written to the training data file.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from handoff.web.bodies import InboxDecision, errors
from handoff.web.deps import Agent, Service

router = APIRouter(tags=["inbox"], responses=errors(401, 403, 503))
Status = Annotated[str, Query(max_length=16, description="new (default), labelled, out_of_scope or dismissed")]


@router.get("/api/inbox", responses=errors(400))
async def inbox(agent: Agent, service: Service, status: Status = "new") -> dict[str, Any]:
    """The inbox's items in a status (the oldest 2,000), in groups of near-duplicates, largest first: each
    group's first text, size, the model's top intents averaged over it, its reasons counted, the categories
    agents set, and its items; ``grouping`` says whether the sentence encoder grouped them (``encoder``) or
    their normalised text (``text``: the encoder is missing); ``counts``: items per status."""
    return await service.inbox.page(agent, status)


@router.get("/api/inbox/intents")
async def intents(agent: Agent, service: Service) -> dict[str, Any]:
    """The intents to label with: the bot's domain's, and new ones trainers made (``in_domain`` false)."""
    return await service.inbox.intents(agent)


@router.post("/api/inbox/decisions", responses=errors(400, 404))
async def decide(body: InboxDecision, agent: Agent, service: Service) -> dict[str, Any]:
    """Label items with an intent, mark them out of scope, dismiss or reopen them; the confirmed examples are
    then written to the training data file (``file``), and examples another NLU file gives another intent are
    listed as ``conflicts`` (left out)."""
    return await service.inbox.decide(agent, body.item_ids, body.decision, body.intent)
