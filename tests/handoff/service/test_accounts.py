"""Agents' accounts and the helpdesk's tickets, through the facade."""

from __future__ import annotations

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.core.errors import BadRequest, NotAuthenticated, UnknownConversation
from handoff.service import HandoffService
from tests.handoff.frames import of_type
from tests.handoff.world import PASSWORD, Agent, Customer


@pytest.mark.parametrize(("username", "password"), [("grace", "not-the-password"), ("nobody", PASSWORD),
                                                    ("GRACE", PASSWORD), ("", "")])
async def test_sign_in_refuses_wrong_credentials_with_one_message(service: HandoffService, username: str,
                                                                   password: str) -> None:
    with pytest.raises(NotAuthenticated, match="username or password is not right"):
        await service.accounts.sign_in(username, password)


async def test_sign_in_opens_a_session_and_brings_the_agent_online(service: HandoffService) -> None:
    token, principal = await service.accounts.sign_in("ada", PASSWORD)
    assert await service.accounts.principal(token) == principal
    assert await service.accounts.me(principal) == {"id": principal.agent_id, "username": "ada",
                                                    "name": "Ada Lovelace", "role": "supervisor",
                                                    "presence": "online"}
    await service.accounts.sign_out(token)
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(token)
    for nothing in (None, "", "forged"):
        with pytest.raises(NotAuthenticated):
            await service.accounts.principal(nothing)


async def test_a_deactivated_account_cannot_sign_in(service: HandoffService, database_url: str) -> None:
    _, principal = await service.accounts.sign_in("linus", PASSWORD)
    log = await TicketLog.open(database_url)  # as an administrator's command would
    try:
        await log.people.update_agent(principal.agent_id, active=False)
    finally:
        await log.close()
    with pytest.raises(NotAuthenticated):
        await service.accounts.sign_in("linus", PASSWORD)


async def test_the_team_with_presence_and_load(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("a person please")
    await grace.inbox.next(of_type("assigned"))
    team = {member["name"]: member for member in await service.accounts.team()}
    assert set(team) == {"Ada Lovelace", "Grace Hopper", "Linus Berg", "Site Admin"}
    assert (team["Grace Hopper"]["presence"], team["Grace Hopper"]["load"], team["Grace Hopper"]["capacity"]) == (
        "online", 1, 3)
    assert (team["Linus Berg"]["presence"], team["Linus Berg"]["tiers"]) == ("offline", [1])


async def test_tickets_list_filter_edit(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    for text in ("a person please", "I am furious"):
        await (await Customer.start(service)).say(text)
    tickets = await service.helpdesk.tickets()
    assert len(tickets) == 2
    assert [t["priority"] for t in await service.helpdesk.tickets(priority="high")] == ["high"]
    assert len(await service.helpdesk.tickets(assignee=grace.id)) == 2  # tiers 1 and 2
    edited = await service.helpdesk.edit_ticket(tickets[0]["id"], tags=["late", "vip"], priority="urgent")
    assert (edited["tags"], edited["priority"]) == (["late", "vip"], "urgent")
    assert [t["id"] for t in await service.helpdesk.tickets(tag="late")] == [tickets[0]["id"]]
    with pytest.raises(UnknownConversation):
        await service.helpdesk.ticket(999)
    with pytest.raises(UnknownConversation):
        await service.helpdesk.edit_ticket(999, tags=["x"])
    with pytest.raises(BadRequest):
        await service.helpdesk.edit_ticket(tickets[0]["id"], priority="sometime")
    assert {c["shortcut"] for c in await service.helpdesk.canned()} >= {"hello", "refund"}
