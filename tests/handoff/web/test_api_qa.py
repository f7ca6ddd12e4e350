"""The QA and follow-up REST API: a review through HTTP, and the errors bad input gets (a sentence, a 4xx)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.handoff.qa_history import handled_ticket, rated
from tests.handoff.web.conftest import Serve
from tests.handoff.world import PASSWORD, T0, FakeClock

KEYS = ("greeting", "accuracy", "tone", "resolution", "notes", "data_protection")


@pytest.fixture
def profile() -> str:
    return "embedded"  # the service's tests run both profiles; this is the HTTP layer's


def body(**changes: Any) -> dict[str, Any]:
    scores = {key: 1 for key in KEYS} | changes
    return {"scores": [{"criterion": key, "score": score} for key, score in scores.items()], "notes": "ok"}


async def test_api_qa_review_and_its_errors(serve: Serve, clock: FakeClock) -> None:
    app, service = await serve()
    grace = await service._log.people.agent_by_username("grace")
    assert grace is not None
    ticket = await handled_ticket(service._log, grace.agent_id, at=T0.timestamp() + 60, handle=300)
    item = await rated(service._log, ticket, 2, "slow", at=T0.timestamp() + 900)
    clock.advance(3600)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as client:
        login = await client.post("/api/auth/login", json={"username": "ada", "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"

        sample = (await client.get("/api/qa/sample", params={"seed": 3})).json()
        assert [(s["ticket_id"], s["reasons"]) for s in sample["sample"]] == [(ticket, ["low_rating"])]
        saved = await client.put(f"/api/qa/tickets/{ticket}/review", json=body(accuracy=5, tone=5, resolution=5))
        assert saved.status_code == 200
        assert saved.json()["agent_name"] == "Grace Hopper"
        assert (await client.get("/api/qa/sample", params={"seed": 3})).json()["sample"] == []
        scores = (await client.get("/api/qa/scores")).json()
        assert [(a["agent_name"], a["reviews"]) for a in scores["agents"]] == [("Grace Hopper", 1)]

        for wrong, status, detail in (
                (body(greeting=3), 400, "The criterion greeting is scored from 0 to 2, not 3."),
                (body(empathy=2), 400, "The scorecard has no criterion 'empathy'"),
                (body(tone=None), 400, "The criterion tone cannot be marked not applicable."),
                ({"scores": [{"criterion": "greeting", "score": "lots"}]}, 400, "scores.0.score"),
                ({"scores": body()["scores"][:2]}, 400, "missing: tone, resolution, notes, data_protection")):
            answer = await client.put(f"/api/qa/tickets/{ticket}/review", json=wrong)
            assert answer.status_code == status, answer.text
            assert detail in answer.json()["error"]["detail"]
        unknown = await client.put("/api/qa/tickets/999999/review", json=body())
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_conversation")
        assert (await client.get("/api/qa/tickets/0")).status_code == 404
        assert (await client.get("/api/qa/sample", params={"since": "soon"})).status_code == 400
        assert (await client.get("/api/qa/reviews", params={"agent_id": "a\x00b"})).status_code == 400
        assert (await client.get("/api/qa/scores", params={"since": "2026-12-01", "until": "2026-11-01"})).status_code == 400

        assert (await client.get(f"/api/followups/{item}")).json()["feedback"]["comment"] == "slow"
        assert (await client.get("/api/followups/424242")).status_code == 404
        assert (await client.get("/api/followups", params={"reason": "angry"})).status_code == 400
        assert (await client.post(f"/api/followups/{item}/assign", json={"agent_id": grace.agent_id})).status_code == 400
        assert (await client.post(f"/api/followups/{item}/notes", json={"text": ""})).status_code == 400
        closed = await client.post(f"/api/followups/{item}/close", json={"note": "apologised"})
        assert closed.json()["status"] == "done"
        again = await client.post(f"/api/followups/{item}/close", json={})
        assert (again.status_code, again.json()["error"]["detail"]) == (409, "This follow-up is closed already.")
