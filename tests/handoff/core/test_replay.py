"""The routing simulator (handoff/core/replay): small histories with known answers, through the product's own
router built from handoff/routing.yml's configuration."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, time
from typing import Any

import pytest

from handoff.core.errors import BadRequest
from handoff.core.model import AgentId, CustomerId, Priority, ShiftWindow
from handoff.core.replay import (
    Contact,
    CustomerStart,
    History,
    PatienceCurve,
    Replay,
    Roster,
    RosterAgent,
    Scenario,
    compare,
    render,
    roster_from_config,
    run_figures,
)
from handoff.core.routing import load_routing_config
from handoff.settings import ROOT

MONDAY = datetime(2026, 11, 23, tzinfo=UTC).timestamp()  # 00:00 UTC
NINE = MONDAY + 9 * 3600
CONFIG = load_routing_config(ROOT / "handoff" / "routing.yml")


def contact(number: int, at: float, **fields: Any) -> Contact:
    fields.setdefault("wait", 0.0)
    fields.setdefault("handle_seconds", 100.0)
    return Contact(number, CustomerId(fields.pop("customer", f"cu{number}")), at, **fields)


def history(*contacts: Contact, customers: dict[CustomerId, CustomerStart] | None = None) -> History:
    return History(MONDAY, MONDAY + 86400, contacts, customers or {})


def team(*agents: RosterAgent, config: dict[str, Any] | None = None) -> Scenario:
    return Scenario.from_config(config or CONFIG, Roster(agents))


def one_run(h: History, scenario: Scenario, seed: int = 0) -> dict[str, Any]:
    return run_figures(Replay(h, scenario, seed).run(), 120.0)


def test_patience_curve_is_kaplan_meier_and_draws_beyond_the_wait() -> None:
    curve = PatienceCurve(gave_up=[10, 30], served_after=[20, 40])
    # at risk 4 at 10 (one gives up): 3/4; 20 censored; at risk 2 at 30: 3/4 * 1/2
    assert (curve.surviving(5), curve.surviving(10), curve.surviving(35)) == (1.0, 0.75, 0.375)
    rng = random.Random(1)
    draws = [curve.draw(rng, longer_than=20) for _ in range(2000)]
    assert set(draws) == {30, math.inf}  # nobody is known to give up after 30: the rest would wait on
    assert 0.4 < draws.count(30) / len(draws) < 0.6  # S(30) / S(20) = 0.5


def test_a_roster_file_and_its_mistakes() -> None:
    roster = roster_from_config({"agents": [
        {"id": "ana", "capacity": 2, "tiers": [1, 2], "skills": ["orders"], "timezone": "Europe/Berlin",
         "shifts": {"mon": "08:00-12:00", "tue": ["20:00-24:00"]}}]})
    ana = roster.agents[0]
    assert ana.shift == (ShiftWindow(0, time(8), time(12)), ShiftWindow(1, time(20), time(0)))
    # Berlin is UTC+1 in November: 07:00-11:00 UTC on Monday, 19:00-23:00 UTC on Tuesday
    assert ana.online(MONDAY, MONDAY + 2 * 86400) == [(MONDAY + 7 * 3600, MONDAY + 11 * 3600),
                                                     (MONDAY + 86400 + 19 * 3600, MONDAY + 86400 + 23 * 3600)]
    for bad, words in [({"agents": [{"id": "x", "shifts": {"mo": "08:00-12:00"}}]}, "shifts must map days"),
                       ({"agents": [{"id": "x", "capacity": 0}]}, "capacity"),
                       ({"agents": [{"id": "x", "tiers": [4]}]}, "tiers"),
                       ({"agents": [{"id": "x", "colour": "red"}]}, "no key 'colour'"),
                       ({"agents": [{"id": "x", "shifts": {"mon": "12:00-08:00"}}]}, "start before"),
                       ({"agents": [{"id": "x"}, {"id": "x"}]}, "twice"), ({"people": []}, "one key")]:
        with pytest.raises(BadRequest, match=words):
            roster_from_config(bad)


def test_capacity_queues_and_impatient_customers_leave() -> None:
    solo = RosterAgent(AgentId("solo"), capacity=1)
    # 2 waited 200 s in the history and nobody is known to give up after 50 s: 2 waits as long as it takes
    h = history(contact(1, NINE), contact(2, NINE + 10, wait=200.0), contact(3, NINE + 20, gave_up_after=50.0,
                                                                             wait=None))
    out = Replay(h, team(solo), 0).run()
    waits = {p.contact.ticket_id: (p.wait, p.outcome) for p in out.contacts}
    # 1 at once; 2 when 1 ends (100 s after nine: waited 90); 3 gave up 50 s after arriving
    assert waits == {1: (0.0, "resolved"), 2: (90.0, "resolved"), 3: (None, "abandoned")}
    figures = run_figures(out, 60.0)["overall"]
    assert figures["abandonment"] == pytest.approx(1 / 3) and figures["service_level"] == pytest.approx(1 / 3)
    assert figures["utilisation"] == pytest.approx(200 / 86400)


def test_a_transfer_goes_to_someone_else_and_sticky_customers_get_their_agent() -> None:
    ada, bob = RosterAgent(AgentId("ada"), tiers=frozenset({1, 2})), RosterAgent(AgentId("bob"))
    h = history(contact(1, NINE, transfers=1, handle_seconds=200.0),
                contact(2, NINE + 1000, customer="regular"),
                customers={CustomerId("regular"): CustomerStart(AgentId("bob"), past_tickets=2)})
    out = Replay(h, team(ada, bob), 0).run()
    assert out.transfers == 1
    assert out.held == {"ada": 100.0, "bob": 200.0}  # each half of the transferred one, and bob the regular
    figures = run_figures(out, 120.0)["overall"]
    assert (figures["sticky_hits"], figures["sticky_rate"]) == (1.0, 1.0)


def test_the_tier_strategy_holds_a_hard_one_until_it_overflows() -> None:
    junior = RosterAgent(AgentId("junior"), tiers=frozenset({1}), shift=(ShiftWindow(0, time(10), time(18)),))
    senior = RosterAgent(AgentId("senior"), tiers=frozenset({3}))
    h = history(contact(1, NINE, tier=1, wait=4000.0))
    out = Replay(h, team(junior, senior), 0).run()
    p = out.contacts[0]
    assert (p.wait, p.outcome, out.held["senior"]) == (300.0, "resolved", 100.0)  # the senior after 300 s
    strict = {**CONFIG, "strategies": [s if s["name"] != "tier" else
                                       {**s, "options": {**s["options"], "overflow_after_seconds": None}}
                                       for s in CONFIG["strategies"]]}
    out = Replay(h, team(junior, senior, config=strict), 0).run()
    assert (out.contacts[0].wait, out.held["junior"]) == (3600.0, 100.0)  # the junior, whose shift starts at ten


def test_closed_hours_make_offline_tickets() -> None:
    config = {**CONFIG, "business_hours": {"timezone": "UTC", "hours": {"mon": "10:00-18:00"}}}
    out = Replay(history(contact(1, NINE), contact(2, NINE + 3600)), team(RosterAgent(AgentId("a")),
                                                                           config=config), 0).run()
    assert [c.ticket_id for c in out.offline] == [1] and [p.contact.ticket_id for p in out.contacts] == [2]


def test_seeds_spread_and_the_table_shows_both_scenarios() -> None:
    rng = random.Random(5)
    contacts = sorted((contact(n, NINE + rng.uniform(0, 8 * 3600), wait=rng.uniform(0, 400),
                               priority=Priority.HIGH if n % 7 == 0 else Priority.NORMAL,
                               category=("orders", None)[n % 2], tier=1 + n % 2,
                               handle_seconds=rng.uniform(200, 900))
                       for n in range(200)), key=lambda c: c.created_at)
    contacts += [contact(1000 + n, NINE + n * 100, wait=None, gave_up_after=rng.uniform(30, 300), status="abandoned")
                 for n in range(20)]
    h = history(*sorted(contacts, key=lambda c: c.created_at))
    few = team(RosterAgent(AgentId("a"), capacity=2, tiers=frozenset({1, 2})), RosterAgent(AgentId("b")))
    more = team(*few.roster.agents, RosterAgent(AgentId("c"), capacity=3, tiers=frozenset({1, 2})))
    comparison = compare(h, few, more, seeds=3)
    current, candidate = comparison.current["overall"], comparison.candidate["overall"]
    assert current["wait_p90"].low < current["wait_p90"].high  # the seeds differ (the patience drawn)
    assert candidate["abandonment"].mean < current["abandonment"].mean
    assert candidate["wait_p90"].mean < current["wait_p90"].mean
    assert set(comparison.current["tiers"]) == {"1", "2"} and set(comparison.current["categories"]) == {"orders", "-"}
    text = render(comparison)
    assert "3 seeds" in text and "tier 2" in text and "category orders" in text
    line = next(row for row in text.splitlines() if row.startswith("abandonment"))
    assert "%" in line and "(" in line
    assert comparison.as_dict()["measured"]["overall"]["abandonment"] == pytest.approx(20 / 220)


def test_a_customer_who_gave_up_after_a_transfer_keeps_that_patience() -> None:
    # held 100 s, transferred, gave up 150 s after the hand-off: 50 s of patience for the second wait
    h = history(contact(1, NINE, transfers=1, status="abandoned", gave_up_after=150.0))
    out = Replay(h, team(RosterAgent(AgentId("only"))), 0).run()
    pending = out.contacts[0]
    assert (pending.outcome, out.transfers, out.held["only"]) == ("abandoned", 1, 100.0)  # nobody else may
    out = Replay(h, team(RosterAgent(AgentId("only")), RosterAgent(AgentId("other"))), 0).run()
    # with a colleague there, they take it at once, for a part as long as the held one
    assert (out.contacts[0].outcome, out.held["other"]) == ("resolved", 100.0)
