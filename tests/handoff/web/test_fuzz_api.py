"""The REST API fuzzed from its own OpenAPI description (schemathesis), in process, on both profiles.

Every operation of ``/openapi.json`` gets requests generated from its description, valid ones and invalid
ones, sent by each kind of caller: nobody, a forged token, an agent, a supervisor, an admin, and a customer
with a conversation's token. The path's ids are either generated or those of real conversations (in each
state: with the bot, queued, assigned, resolved) and real tickets, made through the API before the run, so
requests reach real records. Every answer must pass schemathesis' checks: no 5xx, a status code the
description documents for the route (the error answers are documented with ``responses=``,
handoff/web/bodies.py), the documented content type, and a body that matches the documented schema.

``make test`` runs a bounded number of examples per operation with a fixed seed (so a run is repeatable);
``make fuzz`` runs many more (``FUZZ_EXAMPLES``). A failure prints the request as a curl command.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.web.app import create_app
from tests.handoff.adapters.store.conftest import delete_keys
from tests.handoff.conftest import in_process_service
from tests.handoff.web import test_api
from tests.handoff.web.test_api import sign_in, start
from tests.handoff.world import PASSWORD, FakeClock, FakeRasa

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))  # per operation, per generation mode and profile
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]
api = test_api.api  # the in-process application, for the regression tests below
CALLERS = ["nobody", "forged", "customer", "other_customer", "grace", "ada", "admin"]


@dataclass
class World:
    """The application in process, and real records to aim at."""

    schema: Any
    client: Any
    tokens: dict[str, str] = field(default_factory=dict)  # caller -> bearer token
    conversations: dict[str, str] = field(default_factory=dict)  # conversation id -> its customer token
    tickets: list[int] = field(default_factory=list)


def _call(world: World, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = world.client.request(method, path, headers=headers, **kwargs)
    assert response.status_code < 300, (method, path, response.status_code, response.text)
    return response.json() if response.content else None


def _populate(world: World) -> None:
    """Agents signed in, and conversations in every state with their tickets, made through the API."""
    for username in ("grace", "ada", "admin", "linus"):
        world.tokens[username] = _call(world, "POST", "/api/auth/login",
                                       json={"username": username, "password": PASSWORD})["token"]
    for username in ("ada", "admin", "linus"):  # grace alone takes what is routed
        _call(world, "PUT", "/api/me/presence", world.tokens[username], json={"presence": "away"})
    for number, text in enumerate(["where is my parcel?", "a person please", "a person please", "I am furious",
                                   "a person please", "how much is shipping?"]):
        started = _call(world, "POST", "/api/conversations", json={"name": f"Fuzz {number}"})
        world.conversations[started["conversation_id"]] = started["customer_token"]
        _call(world, "POST", f"/api/conversations/{started['conversation_id']}/messages", started["customer_token"],
              json={"text": text})
    grace = world.tokens["grace"]
    mine = [c["conversation_id"] for c in _call(world, "GET", "/api/agent/conversations", grace)["conversations"]]
    if mine:  # one assigned and answered, one resolved (its ticket closed), the rest left as routed
        _call(world, "POST", f"/api/agent/conversations/{mine[0]}/messages", grace, json={"text": "Hello"})
        _call(world, "POST", f"/api/agent/conversations/{mine[-1]}/resolve", grace)
    world.tickets = [t["id"] for t in _call(world, "GET", "/api/tickets", grace)["tickets"]]
    world.tokens["forged"] = "forged-" + uuid.uuid4().hex


def _sign_in_again(world: World) -> None:
    """After a fuzzed logout (or anything else that ended a session), the agents sign in again, so the next
    operations are tried by signed-in callers too; a refused sign-in keeps the old token (its 401s are
    checked all the same)."""
    for username in ("grace", "ada", "admin"):
        if world.client.get("/api/me", headers={"Authorization": f"Bearer {world.tokens[username]}"}
                            ).status_code == 401:
            again = world.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            if again.status_code == 200:
                world.tokens[username] = again.json()["token"]


@pytest.fixture
def world(profile: str, database_url: str) -> Iterator[World]:
    """The real application on the in-process service of tests/handoff/conftest.py, served by schemathesis'
    ASGI transport (whose event loop runs the lifespan, so the service is opened there)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    rasa, clock = FakeRasa(), FakeClock()

    async def opener(_: HandoffSettings) -> HandoffService:
        return await in_process_service(profile, database_url, prefix, clock, rasa)

    app = create_app(HandoffSettings(), opener)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        with asgi.get_client(app) as client:
            world = World(schema, client)
            _populate(world)
            yield world
    finally:
        asgi.shutdown_lifespans()
        asyncio.run(delete_keys(prefix))


def _aim(world: World, case: Any, caller: str, real: int | None) -> dict[str, str]:
    """Point the case at a real record (``real`` indexes them; None keeps the generated id) and sign it as
    ``caller``; returns the headers."""
    conversation_ids = list(world.conversations)
    conversation = None
    if real is not None and "conversation_id" in (case.path_parameters or {}):
        conversation = conversation_ids[real % len(conversation_ids)]
        case.path_parameters["conversation_id"] = conversation
    if real is not None and "ticket_id" in (case.path_parameters or {}) and world.tickets:
        case.path_parameters["ticket_id"] = world.tickets[real % len(world.tickets)]
    if caller == "nobody":
        return {}
    if caller in ("customer", "other_customer"):
        owner = conversation or conversation_ids[0]
        if caller == "other_customer":
            owner = next(c for c in conversation_ids if c != owner)
        return {"Authorization": f"Bearer {world.conversations[owner]}"}
    return {"Authorization": f"Bearer {world.tokens[caller]}"}


def _fuzz(world: World, operation: Any, mode: GenerationMode, examples: int) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate] if examples <= 50 else list(Phase))
    @given(case=operation.as_strategy(generation_mode=mode), caller=st.sampled_from(CALLERS),
           real=st.none() | st.integers(0, 63))
    def one(case: Any, caller: str, real: int | None) -> None:
        headers = _aim(world, case, caller, real)
        if caller != "nobody" and case.headers:
            case.headers.pop("Authorization", None)
        case.call_and_validate(headers=headers, checks=CHECKS)

    one()


def _operations(world: World) -> Iterator[Any]:
    for result in world.schema.get_all_operations():
        yield result.ok()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_to_every_caller(world: World, mode: GenerationMode) -> None:
    failures: list[str] = []
    for operation in _operations(world):
        _sign_in_again(world)
        try:
            _fuzz(world, operation, mode, EXAMPLES)
        except Unsatisfiable:  # nothing of the operation can be made invalid (no body, any string is a path id)
            assert mode is GenerationMode.NEGATIVE, operation.path
        except Exception as exc:  # one report for every operation, not just the first that fails
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    assert not failures, "\n\n".join(failures)



# What the fuzzer found, one regression test each (all were 500s, or an error body of another shape).

async def test_empty_ticket_filters_are_no_filters(api: httpx.AsyncClient) -> None:
    grace = await sign_in(api, "grace")
    conversation, token = await start(api)
    await api.post(f"/api/conversations/{conversation}/messages", json={"text": "I am furious"}, headers=token)
    listed = await api.get("/api/tickets?status=&assignee=&priority=&q=&tag=", headers=grace)
    assert listed.status_code == 200 and [t["conversation_id"] for t in listed.json()["tickets"]] == [conversation]


@pytest.mark.parametrize(("query", "problem"), [("priority=whenever", "normal, high or urgent"),
                                                ("tier=18446744073709551616", "1, 2 or 3"),
                                                ("q=%00", "NUL")])
async def test_bad_ticket_filters_get_a_400(api: httpx.AsyncClient, query: str, problem: str) -> None:
    response = await api.get(f"/api/tickets?{query}", headers=await sign_in(api, "grace"))
    assert response.status_code == 400 and problem in response.json()["error"]["detail"]


@pytest.mark.parametrize("number", [0, -1, 2**31, 2**64 + 1])
async def test_ticket_numbers_beyond_the_database_name_no_ticket(api: httpx.AsyncClient, number: int) -> None:
    grace = await sign_in(api, "grace")
    for response in (await api.get(f"/api/tickets/{number}", headers=grace),
                     await api.patch(f"/api/tickets/{number}", json={"priority": "high"}, headers=grace)):
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_conversation"
    later = await api.get("/api/tickets", params={"offset": 2**64}, headers=grace)
    assert later.status_code == 200 and later.json()["tickets"] == []


async def test_messages_after_an_id_beyond_the_database_are_none(api: httpx.AsyncClient) -> None:
    conversation, token = await start(api)
    await api.post(f"/api/conversations/{conversation}/messages", json={"text": "hello"}, headers=token)
    later = await api.get(f"/api/conversations/{conversation}/messages", params={"after": 2**40}, headers=token)
    assert later.status_code == 200 and later.json()["messages"] == []


async def test_nul_characters_are_refused_before_they_reach_the_ticket_log(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/conversations", json={"name": "Jo\x00"})
    assert refused.status_code == 400 and "NUL" in refused.json()["error"]["detail"]
    conversation, token = await start(api)
    for body in ({"text": "hi\x00there"}, {"text": "hi", "client_id": "k\x00"}):
        said = await api.post(f"/api/conversations/{conversation}/messages", json=body, headers=token)
        assert said.status_code == 400 and "NUL" in said.json()["error"]["detail"]
    login = await api.post("/api/auth/login", json={"username": "grace\x00", "password": PASSWORD})
    assert login.status_code == 400
    still = await api.post(f"/api/conversations/{conversation}/messages", json={"text": "hi"}, headers=token)
    assert still.status_code == 200  # nothing stuck behind the refused ones


async def test_the_frameworks_own_refusals_use_the_error_format(api: httpx.AsyncClient) -> None:
    for response in (await api.post("/api/conversations", content=b"\xff\xfe{", headers={
                         "Content-Type": "application/json"}),
                     await api.get("/api/nothing-here"), await api.delete("/api/conversations")):
        assert response.status_code in (400, 404, 405), response.text
        assert set(response.json()["error"]) == {"code", "detail"}
