"""Building routing from configuration: the default handoff/routing.yml, and the errors a typo gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId
from handoff.core.routing import (
    STRATEGIES,
    build_business_hours,
    build_queue_order,
    build_router,
    load_routing_config,
)
from tests.conftest import ROOT
from tests.handoff.core.routing.pool import NOW, changed, customer, pool, waiting

DEFAULT = ROOT / "handoff" / "routing.yml"
VALID_NAMES = "valid names: profile, schedule, tier, workload"


def test_config_default_file_loads_and_builds() -> None:
    config = load_routing_config(DEFAULT)
    router = build_router(config)
    assert [s.name for s, _ in router.strategies] == ["schedule", "tier", "profile", "workload"]
    assert build_queue_order(config).aging_seconds == 300
    hours = build_business_hours(config)
    assert hours.is_open(datetime(2026, 12, 25, 3, 0, tzinfo=UTC))  # open 24/7 out of the box
    assert hours.is_open(datetime(2026, 11, 28, 23, 59, tzinfo=UTC))


def test_config_default_routes_a_vip_past_their_full_sticky_agent() -> None:
    router = build_router(load_routing_config(DEFAULT))
    vip = waiting(tier=2, category="payments",
                  customer=customer(language="de", value_tier="vip", last_agent_id=AgentId("b-t3-1")))
    assert router.route(vip, pool(), NOW).agent_id == "b-t3-1"
    # b-t3-1 full: the German-speaking payments specialist with the most room
    decision = router.route(vip, changed(pool(), "b-t3-1", load=2), NOW)
    assert decision.agent_id == "b-t2-2"
    assert decision.explanation[0] == "10 of 12 agents have room and may take it"  # b-t3-1, n-t1-3 full


def test_config_default_serves_english_customers_from_new_york_when_berlin_is_closed() -> None:
    router = build_router(load_routing_config(DEFAULT))
    evening = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 18:00 in Berlin, 12:00 in New York
    decision = router.route(waiting(tier=1, category="orders"), pool(), evening)
    assert decision.agent_id == "n-t1-1"  # empty, skilled in orders, the longest idle of those


@pytest.mark.parametrize("config, message", [
    ({"strategies": [{"name": "round_robin"}]}, f"Unknown routing strategy 'round_robin' \\({VALID_NAMES}\\)"),
    ({"strategies": [{"weight": 1}]}, "must be a mapping with a name"),
    ({"strategies": []}, "non-empty list 'strategies'"),
    ({}, "non-empty list 'strategies'"),
    ({"strategies": [{"name": "tier"}, {"name": "tier"}]}, "'tier' is named twice"),
    ({"strategies": [{"name": "tier", "wieght": 2}]}, "no option 'wieght' \\(valid options: options, weight\\)"),
    ({"strategies": [{"name": "tier", "options": {"overflow": 60}}]}, "no option 'overflow'"),
    ({"strategies": [{"name": "tier"}], "routing": {}}, "no section 'routing'"),
])
def test_config_rejects_mistakes_naming_the_valid_choices(config: dict[str, Any], message: str) -> None:
    with pytest.raises(RoutingConfigError, match=message):
        build_router(config)


@pytest.mark.parametrize("weight", [-1, "heavy", True, float("nan"), None])
def test_config_rejects_bad_weights(weight: Any) -> None:
    with pytest.raises(RoutingConfigError, match="'weight' of the routing strategy 'workload' must be a number"):
        build_router({"strategies": [{"name": "workload", "weight": weight}]})


def test_config_accepts_every_registered_strategy_with_defaults() -> None:
    router = build_router({"strategies": [{"name": name} for name in STRATEGIES]})
    assert {s.name: w for s, w in router.strategies} == dict.fromkeys(STRATEGIES, 1.0)


def test_config_queue_rejects_bad_aging() -> None:
    with pytest.raises(RoutingConfigError, match="'aging_seconds'"):
        build_queue_order({"queue": {"aging_seconds": 0}})


def test_config_file_errors_are_routing_config_errors(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match="Cannot read the routing configuration"):
        load_routing_config(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("strategies: [name: tier\n")
    with pytest.raises(RoutingConfigError, match="not valid YAML"):
        load_routing_config(broken)
    listing = tmp_path / "list.yml"
    listing.write_text("- tier\n")
    with pytest.raises(RoutingConfigError, match="must be a mapping"):
        load_routing_config(listing)
