"""``GET /metrics`` (docs/operations-metrics.md): the figures after real traffic through the service and its
sockets, and who may read them (loopback only, or the bearer token of ``HANDOFF_METRICS_TOKEN``)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.datastructures import Secret

from handoff.service import HandoffService
from tests.conftest import ROOT
from tests.handoff.web.conftest import Serve
from tests.handoff.web.sockets import connect
from tests.handoff.world import Agent, Customer, FakeClock, FakeRasa, handoff_request

SUFFIXES = r"_(total|bucket|count|sum)$"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of an exposition text."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(app: object, headers: dict[str, str] | None = None, client: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://handoff.test") as http:
        return await http.get("/metrics", headers=headers or {})


@pytest.fixture
def profile() -> str:
    return "embedded"  # the counters are the instance's; the live figures are read through the store's contract


async def traffic(service: HandoffService, clock: FakeClock, rasa: FakeRasa) -> list[Customer]:
    """One customer answered by the bot, two handed off (explicit request, complaint); grace takes the first."""
    grace = await Agent.sign_in(service, "grace")
    answered = await Customer.start(service)
    await answered.say("what does shipping cost")  # customer + bot (an answer citing an article)
    first = await Customer.start(service)
    await grace.presence("online")
    await first.say("a person please")  # customer + bot + handoff (explicit_request) -> assigned to grace
    await grace.say(first.conversation_id, "Hello, Grace here.")
    await grace.presence("away")
    second = await Customer.start(service)
    rasa.replies_to["this is absurd"] = [
        {"recipient_id": second.conversation_id, "text": "I'm sorry."},
        {"recipient_id": second.conversation_id, "custom": {"handoff": handoff_request(
            second.conversation_id, "this is absurd", code="complaint", priority="high")}}]
    await second.say("this is absurd")  # queued: nobody is online
    clock.advance(90)
    return [answered, first, second]


async def test_metrics_after_traffic(serve: Serve, clock: FakeClock, rasa: FakeRasa) -> None:
    app, service = await serve()
    customers = await traffic(service, clock, rasa)
    second = customers[2]
    token = service.customers.token(second.conversation_id)
    async with connect(app, "/ws/customer", {"conversation_id": second.conversation_id, "token": token}) as socket:
        await socket.until("hello")
        response = await scrape(app)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    logged = Counter[str]()
    for customer in customers:
        logged.update(m.sender for m in await service.customers.history(customer.conversation_id))
    assert logged["customer"] == 3 and logged["agent"] == 1 and logged["bot"] == 3 and logged["system"] >= 2
    for sender, count in logged.items():
        assert got[("handoff_messages_total", (("sender", sender),))] == count
    assert got[("handoff_handoffs_total", (("outcome", "queued"), ("reason", "explicit_request")))] == 1
    assert got[("handoff_handoffs_total", (("outcome", "queued"), ("reason", "complaint")))] == 1
    assert got[("handoff_bot_latency_seconds_count", ())] == 3
    assert got[("handoff_bot_failures_total", ())] == 0
    assert got[("handoff_queue_length", ())] == 1
    assert got[("handoff_queue_oldest_wait_seconds", ())] == pytest.approx(90)
    assert got[("handoff_conversations_assigned", ())] == 1
    assert got[("handoff_agents", (("presence", "away"),))] == 1
    assert got[("handoff_sockets_open", (("kind", "customer"),))] == 1
    assert got[("handoff_sockets_open", (("kind", "agent"),))] == 0
    after = samples((await scrape(app)).text)  # the socket closed; the first scrape is counted by its route
    assert after[("handoff_sockets_open", (("kind", "customer"),))] == 0
    assert after[("handoff_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200")))] == 1


async def test_bot_failures_are_counted(serve: Serve, rasa: FakeRasa) -> None:
    app, service = await serve()
    rasa.down = True
    customer = await Customer.start(service)
    await customer.say("hello")  # the bot does not answer: handed off as bot_unavailable
    got = samples((await scrape(app)).text)
    assert got[("handoff_bot_failures_total", ())] == 1
    assert got[("handoff_bot_latency_seconds_count", ())] == 0
    assert got[("handoff_handoffs_total", (("outcome", "queued"), ("reason", "bot_unavailable")))] == 1


async def test_alert_states_come_from_the_alerts_part(serve: Serve, clock: FakeClock, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yml"
    rules.write_text("rules:\n"
                     "  - {name: queue-waiting, metric: queue_length, above: 0}\n"
                     "  - {name: nobody-online, metric: agents_online, below: 0.5, for: 1h}\n")
    app, service = await serve(alerts_config=rules, alert_interval=1.0)
    customer = await Customer.start(service)
    await customer.say("a person please")  # queued: nobody is online
    clock.advance(2)
    await service.alerts.tick()  # what the sweeper does every HANDOFF_ALERT_INTERVAL
    got = samples((await scrape(app)).text)
    assert got[("handoff_alert_firing", (("rule", "queue-waiting"),))] == 1
    assert got[("handoff_alert_firing", (("rule", "nobody-online"),))] == 0  # breached, but not for an hour yet


async def test_without_a_token_only_loopback_is_served(serve: Serve) -> None:
    app, _ = await serve()
    assert (await scrape(app, client="::1")).status_code == 200
    refused = await scrape(app, client="203.0.113.7")
    assert refused.status_code == 403
    assert "HANDOFF_METRICS_TOKEN" in refused.json()["error"]["detail"]


async def test_behind_a_proxy_the_forwarded_address_counts(serve: Serve) -> None:
    app, _ = await serve(client_ip_header="X-Forwarded-For")
    assert (await scrape(app, {"X-Forwarded-For": "203.0.113.7"})).status_code == 403
    assert (await scrape(app, {"X-Forwarded-For": "127.0.0.1"})).status_code == 200


async def test_with_a_token_it_is_required_from_everywhere(serve: Serve) -> None:
    app, _ = await serve(metrics_token=Secret("scrape-me"))
    assert (await scrape(app)).status_code == 401
    assert (await scrape(app, {"Authorization": "Bearer wrong"})).status_code == 401
    good = {"Authorization": "Bearer scrape-me"}
    assert (await scrape(app, good)).status_code == 200
    assert (await scrape(app, good, client="203.0.113.7")).status_code == 200


def test_the_token_is_read_from_the_environment() -> None:
    from handoff.settings import HandoffSettings

    settings = HandoffSettings.from_env({"HANDOFF_METRICS_TOKEN": "s3cret", "HANDOFF_SECRET": "x"})
    assert settings.metrics_token is not None and str(settings.metrics_token) == "s3cret"
    assert HandoffSettings.from_env({"HANDOFF_SECRET": "x"}).metrics_token is None


async def test_the_dashboard_and_the_docs_name_only_metrics_that_exist(serve: Serve) -> None:
    """docs/grafana/handoff-dashboard.json is valid JSON whose queries, like docs/operations-metrics.md's table,
    name only metrics the endpoint serves; and every metric served is documented."""
    app, _ = await serve()  # the shipped alert rules
    families = {family.name for family in text_string_to_metric_families((await scrape(app)).text)
                if not family.name.endswith("_created")}  # the client library's start time of each counter
    dashboard = json.loads((ROOT / "docs" / "grafana" / "handoff-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {re.sub(SUFFIXES, "", name) for query in queries for name in re.findall(r"\bhandoff_[a-z_]+", query)}
    assert named and named <= families, named - families
    documented = re.findall(r"^\| `(handoff_[a-z_]+)`", (ROOT / "docs" / "operations-metrics.md").read_text(),
                            re.MULTILINE)
    assert {re.sub(SUFFIXES, "", name) for name in documented} == families
