"""Agents' accounts (sign-in, sessions, the admins' management) and the helpdesk's tickets, through the facade."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from redis.asyncio import Redis

from handoff.adapters.tickets import TicketLog
from handoff.core.errors import BadRequest, NotAllowed, NotAuthenticated, RateLimited, UnknownConversation
from handoff.service import HandoffService
from handoff.service.auth import ARGON2, SESSION_PREFIX, Passwords, check_password
from handoff.service.ports import Store
from tests.handoff.adapters.store.conftest import REDIS_URL
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.world import PASSWORD, SUPERVISOR, Agent, Customer


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
    team = {member["name"]: member for member in await service.accounts.team(SUPERVISOR)}
    assert set(team) == {"Ada Lovelace", "Grace Hopper", "Linus Berg", "Site Admin"}
    assert (team["Grace Hopper"]["presence"], team["Grace Hopper"]["load"], team["Grace Hopper"]["capacity"]) == (
        "online", 1, 3)
    assert (team["Linus Berg"]["presence"], team["Linus Berg"]["tiers"]) == ("offline", [1])


async def test_tickets_list_filter_edit(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    for text in ("a person please", "I am furious"):
        await (await Customer.start(service)).say(text)
    tickets = await service.helpdesk.tickets(SUPERVISOR)
    assert len(tickets) == 2
    assert [t["priority"] for t in await service.helpdesk.tickets(SUPERVISOR, priority="high")] == ["high"]
    assert len(await service.helpdesk.tickets(SUPERVISOR, assignee=grace.id)) == 2  # tiers 1 and 2
    edited = await service.helpdesk.edit_ticket(SUPERVISOR, tickets[0]["id"], tags=["late", "vip"], priority="urgent")
    assert (edited["tags"], edited["priority"]) == (["late", "vip"], "urgent")
    assert [t["id"] for t in await service.helpdesk.tickets(SUPERVISOR, tag="late")] == [tickets[0]["id"]]
    with pytest.raises(UnknownConversation):
        await service.helpdesk.ticket(SUPERVISOR, 999)
    with pytest.raises(UnknownConversation):
        await service.helpdesk.edit_ticket(SUPERVISOR, 999, tags=["x"])
    with pytest.raises(BadRequest):
        await service.helpdesk.edit_ticket(SUPERVISOR, tickets[0]["id"], priority="sometime")
    assert {c["shortcut"] for c in await service.helpdesk.canned(SUPERVISOR)} >= {"hello", "refund"}


# ---- passwords off the event loop, sessions by hash --------------------------------------------------

async def test_password_checks_leave_the_event_loop_free(service: HandoffService) -> None:
    """A burst of bad sign-ins: Argon2 runs on its own threads, so the loop keeps serving everything else
    (each check here costs tens of milliseconds of CPU; on the loop, each would stall every socket that long)."""
    started = time.perf_counter()
    check_password(None, "a guess")
    one_check = time.perf_counter() - started
    loop, stalls = asyncio.get_running_loop(), []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.002)
            stalls.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    outcomes = await asyncio.gather(*(service.accounts.sign_in("grace", f"guess-{n}", f"192.0.2.{n}")
                                      for n in range(5)), return_exceptions=True)
    ticker.cancel()
    assert all(isinstance(outcome, NotAuthenticated) for outcome in outcomes)
    assert len(stalls) > 5 and max(stalls) < one_check / 2, (max(stalls), one_check)


async def test_new_hashes_use_the_documented_argon2_parameters() -> None:
    passwords = Passwords()
    try:
        parameters = extract_parameters(await passwords.hash("correct-horse"))
        with pytest.raises(BadRequest, match="at least 8 characters"):
            await passwords.hash("short")
    finally:
        passwords.close()
    assert (parameters.type, parameters.time_cost, parameters.memory_cost, parameters.parallelism,
            parameters.salt_len, parameters.hash_len) == (Type.ID, 3, 65536, 4, 16, 32)
    assert parameters == ARGON2


async def test_sign_ins_beyond_what_the_hashing_threads_can_queue_are_refused_at_once() -> None:
    passwords = Passwords(threads=1, max_waiting=2)
    try:
        outcomes = await asyncio.gather(*(passwords.check(None, f"guess-{n}") for n in range(3)),
                                        return_exceptions=True)
        assert outcomes[:2] == [False, False]
        assert isinstance(outcomes[2], RateLimited) and outcomes[2].retry_after == 1.0
        assert await passwords.check(None, "later") is False  # room again once they are done
    finally:
        passwords.close()


async def test_a_hash_made_with_other_parameters_is_made_again_at_sign_in(service: HandoffService,
                                                                          database_url: str) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    log = await TicketLog.open(database_url)
    try:
        grace = await log.people.agent_by_username("grace")
        assert grace is not None
        await log.people.update_agent(grace.agent_id, password_hash=weak)
        await service.accounts.sign_in("grace", PASSWORD)
        renewed = await log.people.agent_by_username("grace")
    finally:
        await log.close()
    assert renewed is not None and extract_parameters(renewed.password_hash) == ARGON2


async def redis_texts(prefix: str) -> list[str]:
    """Every key under ``prefix`` and everything stored in it."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    found: list[str] = []
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            kind = await client.type(key)
            value = {"string": client.get, "hash": client.hgetall, "set": client.smembers, "list":
                     lambda k: client.lrange(k, 0, -1), "zset": lambda k: client.zrange(k, 0, -1)}[kind](key)
            found += [key, str(await value)]
    finally:
        await client.aclose()
    return found


async def test_the_store_keeps_sessions_under_a_hash_of_their_token(open_service: OpenService, profile: str) -> None:
    """A copy of the live store (a Redis dump, a backup) holds no token that opens a console."""
    stores: list[Store] = []
    service = await open_service(wrap_store=lambda store: stores.append(store) or store)
    token, principal = await service.accounts.sign_in("ada", PASSWORD)
    assert await stores[0].get_session(SESSION_PREFIX + token) is None
    kept = await stores[0].get_session(SESSION_PREFIX + hashlib.sha256(token.encode()).hexdigest())
    assert kept is not None and kept["agent_id"] == principal.agent_id
    if profile == "production":
        texts = await redis_texts(service.settings.key_prefix)
        assert texts and not [text for text in texts if token in text]


# ---- sign-out, deactivation, the admins' management --------------------------------------------------

async def test_signing_out_tells_that_sessions_sockets_only(service: HandoffService) -> None:
    first, second = await Agent.sign_in(service, "grace"), await Agent.sign_in(service, "grace")
    await service.accounts.sign_out(first.token)
    assert (await first.inbox.next(of_type("signed_out")))["session"] == first.principal.session
    assert first.principal.session != second.principal.session
    assert await service.accounts.principal(second.token) == second.principal
    with pytest.raises(NotAuthenticated):
        await service.accounts.principal(first.token)
    await service.accounts.sign_out(first.token)  # again: nothing to end, no error


async def test_deactivation_ends_every_session_and_requeues_the_agents_conversations(
        service: HandoffService) -> None:
    admin = await Agent.sign_in(service, "admin")
    await admin.presence("away")
    grace = await Agent.sign_in(service, "grace")
    other_session = await Agent.sign_in(service, "grace")
    customers = [await Customer.start(service) for _ in range(2)]
    for customer in customers:
        await customer.say("a person please")
    assert [(await c.record()).agent_id for c in customers] == [grace.id, grace.id]
    changed = await service.accounts.change(admin.principal, grace.id, {"active": False})
    assert changed["active"] is False
    assert (await grace.inbox.next(of_type("signed_out")))["session"] is None  # every session of hers
    for session in (grace, other_session):
        with pytest.raises(NotAuthenticated):
            await service.accounts.principal(session.token)
    for customer in customers:
        record = await customer.record()
        assert (record.state.value, record.agent_id, grace.id in record.excluded) == ("queued", None, True)
    assert (await service.desk.presence_of(grace.principal)).value == "offline"
    with pytest.raises(NotAuthenticated):
        await service.accounts.sign_in("grace", PASSWORD)
    assert grace.id not in {member["id"] for member in await service.accounts.team(SUPERVISOR)}
    with pytest.raises(BadRequest, match="deactivated"):  # nobody can transfer to her either
        linus, customer = await Agent.sign_in(service, "linus"), await Customer.start(service)
        await customer.say("a person please")
        await service.desk.transfer(linus.principal, customer.conversation_id, agent_id=grace.id)


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_manage_accounts(service: HandoffService, role: str) -> None:
    caller = await Agent.sign_in(service, {"agent": "grace", "supervisor": "ada"}[role])
    attempts = [service.accounts.accounts(caller.principal),
                service.accounts.create(caller.principal, username="eve", name="Eve", password="long-enough"),
                service.accounts.change(caller.principal, caller.id, {"role": "admin"}),
                service.accounts.reset_password(caller.principal, caller.id, "long-enough")]
    for attempt in attempts:
        with pytest.raises(NotAllowed, match="Only an admin"):
            await attempt
    assert (await service.accounts.principal(caller.token)).role.value == role


# ---- an agent's tickets are their own ---------------------------------------------------------------

async def test_an_agent_sees_and_edits_only_their_own_tickets(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    mine = await Customer.start(service)
    await mine.say("a person please")
    await grace.presence("away")
    linus = await Agent.sign_in(service, "linus")
    theirs = await Customer.start(service)
    await theirs.say("a person please")
    my_ticket, their_ticket = (await mine.record()).ticket_id or 0, (await theirs.record()).ticket_id or 0
    assert [t["id"] for t in await service.helpdesk.tickets(grace.principal)] == [my_ticket]
    assert [t["id"] for t in await service.helpdesk.tickets(grace.principal, q="person")] == [my_ticket]
    assert {t["id"] for t in await service.helpdesk.tickets(SUPERVISOR)} == {my_ticket, their_ticket}
    for reading in (service.helpdesk.ticket(grace.principal, their_ticket),
                    service.helpdesk.edit_ticket(grace.principal, their_ticket, tags=["mine now"]),
                    service.desk.detail(grace.principal, theirs.conversation_id),
                    service.desk.note(grace.principal, theirs.conversation_id, "peeking")):
        with pytest.raises(NotAllowed, match="not one of yours"):
            await reading
    await service.desk.transfer(grace.principal, mine.conversation_id, agent_id=linus.id)  # handed over...
    assert (await mine.record()).agent_id == linus.id
    detail = await service.desk.detail(grace.principal, mine.conversation_id)  # ...still hers to read
    assert detail["ticket"]["id"] == my_ticket
    await service.desk.note(grace.principal, mine.conversation_id, "Over to you, Linus.")
    with pytest.raises(NotAllowed, match="assigned to another agent"):  # ...but no longer hers to answer
        await service.desk.says(grace.principal, mine.conversation_id, "still here?", "c1")
    assert [t["id"] for t in await service.helpdesk.tickets(linus.principal)] == [their_ticket, my_ticket]
