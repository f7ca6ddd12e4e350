"""The automation endpoints (handoff/web/api_automation.py) and the callback marked as made through
``PATCH /api/tickets/{id}``, over HTTP: what they answer, and the 4xx a bad request gets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.handoff.web.conftest import Serve
from tests.handoff.world import PASSWORD, Customer, FakeClock

CLOSED_DESK = {"strategies": [{"name": "workload"}],
               "business_hours": {"timezone": "UTC", "hours": {"wed": "08:00-09:00"}}}  # it is Wednesday 14:00


@pytest.fixture
def profile() -> str:
    return "embedded"  # the HTTP layer does not depend on where the live state is kept


async def sign_in(api: httpx.AsyncClient, username: str) -> dict[str, str]:
    token = (await api.post("/api/auth/login", json={"username": username, "password": PASSWORD})).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_supervisors_read_the_rules_and_the_log_and_mark_a_callback(serve: Serve, tmp_path: Path,
                                                                          clock: FakeClock) -> None:
    rules = tmp_path / "automation.yml"
    rules.write_text(yaml.safe_dump({"rules": [
        {"name": "everything", "kind": "on_arrival", "set": {"tags": ["seen"]}},
        {"name": "called-back", "kind": "close_callback", "after": 60}]}))
    app, service = await serve(automation_config=rules, routing=CLOSED_DESK)
    customer = await Customer.start(service, email="jo@example.com")
    await customer.say("a person please")
    ticket_id = (await customer.record()).ticket_id
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        ada = await sign_in(api, "ada")
        listed = (await api.get("/api/automation/rules", headers=ada)).json()["rules"]
        assert [(r["name"], r["kind"], r["count"]) for r in listed] == [("everything", "on_arrival", 1),
                                                                       ("called-back", "close_callback", 0)]
        assert listed[1]["when"] == "1 minute after an out-of-hours ticket's callback was made"
        marked = await api.patch(f"/api/tickets/{ticket_id}", json={"callback_sent": True}, headers=ada)
        assert marked.status_code == 200 and marked.json()["callback"]["sent_at"]
        again = await api.patch(f"/api/tickets/{ticket_id}", json={"callback_sent": True}, headers=ada)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
        clock.advance(60)
        await service.sweep()
        events = (await api.get("/api/automation/events", params={"rule": "called-back"}, headers=ada)).json()
        assert [(e["ticket_id"], e["action"]) for e in events["events"]] == [(ticket_id, "closed")]
        ticket = (await api.get(f"/api/tickets/{ticket_id}", headers=ada)).json()
        assert ticket["resolution"] == "callback"
        assert [e["rule"] for e in ticket["automation"]] == ["everything", "called-back"]
        bad = await api.get("/api/automation/events", params={"since": "last tuesday"}, headers=ada)
        assert (bad.status_code, bad.json()["error"]["detail"]) == (
            400, "since: an ISO 8601 date and time, e.g. 2026-12-04T09:00:00Z.")
        grace = await sign_in(api, "grace")
        refused = await api.get("/api/automation/events", headers=grace)
        assert (refused.status_code, refused.json()["error"]["detail"]) == (
            403, "Only supervisors and admins see the automation rules.")
