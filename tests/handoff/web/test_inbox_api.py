"""The NLU inbox's REST endpoints (handoff/web/api_inbox.py) on the real application and the in-process service:
a customer's fallback over the customer API reaches a trainer's page grouped with its intents, an agent's
category over the ticket API adds its hint, a bulk decision writes the training data file, and bad input gets
its sentence (400, 404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from handoff.service import HandoffService
from tests.handoff.web.conftest import Serve
from tests.handoff.web.test_admin import sign_in
from tests.handoff.world import Agent


@pytest.fixture
async def served(serve: Serve, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, HandoffService]]:
    app, service = await serve(inbox_file=tmp_path / "nlu" / "inbox.yml")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        yield api, service


async def say(api: httpx.AsyncClient, *texts: str) -> str:
    started = (await api.post("/api/conversations", json={})).json()
    headers = {"Authorization": f"Bearer {started['customer_token']}"}
    for text in texts:
        said = await api.post(f"/api/conversations/{started['conversation_id']}/messages", json={"text": text},
                              headers=headers)
        assert said.status_code == 200, said.text
    return str(started["conversation_id"])


async def test_a_trainer_reads_groups_and_labels_them_in_bulk_over_http(
        served: tuple[httpx.AsyncClient, HandoffService], tmp_path: Path) -> None:
    api, _ = served
    await say(api, "zqx where is order 123", "zqx where is order 456")
    await say(api, "zqx lasagne recipe?")
    tess = await sign_in(api, "tess")
    page = (await api.get("/api/inbox", headers=tess)).json()
    assert page["status"] == "new" and page["counts"] == {"new": 3, "labelled": 0, "out_of_scope": 0, "dismissed": 0}
    sizes = {g["text"]: g["size"] for g in page["groups"]}
    assert sizes["zqx where is order 123"] == 2 and sizes["zqx lasagne recipe?"] == 1
    order = next(g for g in page["groups"] if g["size"] == 2)
    assert order["reasons"] == {"ambiguous": 2, "fallback": 2}
    assert [i["name"] for i in order["intents"]] == ["ask_shipping", "order_status"]

    ids = [i["id"] for i in order["items"]]
    decided = await api.post("/api/inbox/decisions", headers=tess,
                             json={"item_ids": ids, "decision": "label", "intent": "order_status"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["decided"] == 2 and decided.json()["file"]["examples"] == 2
    written = (tmp_path / "nlu" / "inbox.yml").read_text()
    assert written.endswith("- intent: order_status\n  examples: |\n    - zqx where is order 123\n"
                            "    - zqx where is order 456\n")
    labelled = (await api.get("/api/inbox", params={"status": "labelled"}, headers=tess)).json()
    assert [i["intent"] for g in labelled["groups"] for i in g["items"]] == ["order_status", "order_status"]
    intents = (await api.get("/api/inbox/intents", headers=tess)).json()["intents"]
    assert {"name": "order_status", "in_domain": True, "labelled": 2} in intents


async def test_an_agents_category_over_the_ticket_api_reaches_the_inbox(
        served: tuple[httpx.AsyncClient, HandoffService]) -> None:
    api, service = served
    grace = await Agent.sign_in(service, "grace")
    conversation_id = await say(api, "a person please, my blender came back broken")
    ticket_id = (await service.customers.get(conversation_id)).ticket_id
    headers = {"Authorization": f"Bearer {grace.token}"}
    bad = await api.patch(f"/api/tickets/{ticket_id}", json={"category": "Returns!"}, headers=headers)
    assert bad.status_code == 400
    edited = await api.patch(f"/api/tickets/{ticket_id}", json={"category": "returns"}, headers=headers)
    assert edited.status_code == 200 and edited.json()["category"] == "returns"
    tess = await sign_in(api, "tess")
    [group] = (await api.get("/api/inbox", headers=tess)).json()["groups"]
    assert group["text"] == "a person please, my blender came back broken"
    assert group["hints"] == ["returns"] and group["reasons"] == {"agent_category": 1}


async def test_bad_input_gets_its_sentence(served: tuple[httpx.AsyncClient, HandoffService]) -> None:
    api, _ = served
    await say(api, "zqx gift wrap")
    tess = await sign_in(api, "tess")
    [item_id] = [i["id"] for g in (await api.get("/api/inbox", headers=tess)).json()["groups"] for i in g["items"]]
    cases = [({"item_ids": [item_id], "decision": "label", "intent": "Gift Wrap"}, 400, "snake_case"),
             ({"item_ids": [item_id], "decision": "label"}, 400, "snake_case"),
             ({"item_ids": [item_id, 2_000_000], "decision": "dismiss"}, 404, "no inbox item 2000000"),
             ({"item_ids": [], "decision": "dismiss"}, 400, ""),
             ({"item_ids": [item_id], "decision": "approve"}, 400, "")]
    for body, status, sentence in cases:
        answer = await api.post("/api/inbox/decisions", headers=tess, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert sentence in answer.text
    assert (await api.get("/api/inbox", params={"status": "everything"}, headers=tess)).status_code == 400
    assert (await api.post("/api/inbox/decisions", json={"item_ids": [item_id], "decision": "dismiss"},
                           headers={"Cookie": "x=y"})).status_code == 401
