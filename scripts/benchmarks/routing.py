"""Routing decision time with 1,000 agents, in process: ``build_router`` with handoff/routing.yml against a
plain least-loaded choice over the same pool (the same-run baseline). Target: p99 under 5 ms."""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from datetime import time as clock
from typing import Any

from scripts.benchmarks.base import ROOT, Benchmark, Flags, Json, TargetRow
from scripts.benchmarks.report import ratio, say
from scripts.benchmarks.stats import mean, percentile, summary

TARGET_P99_MS = 5.0
CONVERSATIONS = 500
WARMUP = 200  # decisions that fill caches (zones, shift tables) and are not counted
ZONES = ("Europe/Berlin", "America/New_York", "Europe/Stockholm", "Asia/Tokyo", "America/Los_Angeles", "UTC",
         "Asia/Kolkata", "Australia/Sydney")
SKILLS = ("orders", "shipping", "returns", "payments", "accounts", "products", "technical", "vip")
LANGUAGES = ("de", "fr", "es", "sv", "nl", "pt")
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # a Wednesday afternoon in Europe, morning in America


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--decisions", type=int, default=5000, help="routing decisions timed")


def agent_pool(count: int, rng: random.Random) -> list[Any]:
    """``count`` agents: tiers, languages, skills, weekday shifts in eight timezones, presence, varied load."""
    from handoff.core.model import AgentId, AgentSnapshot, Presence, ShiftWindow

    shifts = [(clock(8), clock(16)), (clock(12), clock(20)), (clock(16), clock(23, 59)), (clock(6), clock(14))]
    pool = []
    for n in range(count):
        tiers = rng.choices([{1}, {1, 2}, {1, 2, 3}, {2, 3}], weights=[55, 28, 12, 5])[0]
        languages = ({"en"} if rng.random() < 0.9 else set()) | set(rng.sample(LANGUAGES, rng.choice([0, 0, 1, 2])))
        start, end = rng.choice(shifts)
        shift = () if rng.random() < 0.2 else tuple(ShiftWindow(day, start, end) for day in range(5))
        capacity = rng.randint(2, 6)
        pool.append(AgentSnapshot(
            AgentId(f"a_{n:04d}"), rng.choices(list(Presence), weights=[85, 10, 5])[0], capacity,
            rng.randint(0, capacity), frozenset(tiers), frozenset(languages or {"en"}),
            frozenset(rng.sample(SKILLS, rng.randint(1, 3))), NOW.timestamp() - rng.uniform(0, 3600), shift,
            rng.choice(ZONES)))
    return pool


def waiting_conversations(count: int, pool: Sequence[Any], rng: random.Random) -> list[Any]:
    """``count`` varied waiting conversations: language, vip, sticky last agent, history, tier, age."""
    from handoff.core.model import ConversationId, CustomerId, CustomerProfile, Priority, WaitingConversation

    found = []
    for n in range(count):
        customer = CustomerProfile(
            CustomerId(f"cu_{n}"), "en" if rng.random() < 0.8 else rng.choice(LANGUAGES),
            "vip" if rng.random() < 0.1 else "standard", rng.uniform(0, 5000),
            rng.choice(pool).agent_id if rng.random() < 0.3 else None, rng.choice([0, 0, 0, 1, 2, 5, 8]))
        excluded = frozenset(a.agent_id for a in rng.sample(list(pool), 2)) if rng.random() < 0.1 else frozenset()
        found.append(WaitingConversation(
            ConversationId(f"c_{n}"), customer, rng.choices(list(Priority), weights=[80, 15, 5])[0],
            rng.choices([1, 2, 3], weights=[60, 30, 10])[0], rng.choice([*SKILLS[:7], None]),
            NOW.timestamp() - rng.uniform(0, 600), excluded))
    return found


def least_loaded(agents: Sequence[Any]) -> Any:
    """The baseline: the online agent with room and the lowest load ratio (ties: the longest idle)."""
    best, best_key = None, (2.0, 0.0)
    for agent in agents:
        if agent.presence == "online" and agent.load < agent.capacity:
            key = (agent.load / agent.capacity, agent.idle_since)
            if key < best_key:
                best, best_key = agent, key
    return best.agent_id if best is not None else None


def run(args: argparse.Namespace, agents: int = 1000) -> Json:
    from handoff.core.routing import build_router, load_routing_config

    decisions = args.decisions
    say(f"routing: {decisions} decisions over {agents} agents (default handoff/routing.yml) vs least-loaded")
    rng = random.Random(20261125)
    router = build_router(load_routing_config(ROOT / "handoff" / "routing.yml"))
    pool = agent_pool(agents, rng)
    conversations = waiting_conversations(CONVERSATIONS, pool, rng)
    timings: dict[str, list[float]] = {"router": [], "least_loaded": [], "router_cpu": [], "least_loaded_cpu": []}
    eligible, chosen = [], 0
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for n in range(decisions + WARMUP):
        conversation = conversations[n % len(conversations)]
        started, started_cpu = wall(), cpu()
        decision = router.route(conversation, pool, NOW)
        routed, routed_cpu = wall(), cpu()
        least_loaded(pool)
        done, done_cpu = wall(), cpu()
        if n >= WARMUP:
            timings["router"].append((routed - started) / 1e6)
            timings["least_loaded"].append((done - routed) / 1e6)
            timings["router_cpu"].append((routed_cpu - started_cpu) / 1e6)
            timings["least_loaded_cpu"].append((done_cpu - routed_cpu) / 1e6)
            eligible.append(len(decision.scores))
            chosen += decision.agent_id is not None
        if n and n % 1000 == 0:
            say(f"routing: {n} decisions, router p99 so far {percentile(timings['router'], 99):.2f} ms wall, "
                f"{percentile(timings['router_cpu'], 99):.2f} ms CPU")
    result: Json = {"agents": agents, "decisions": decisions, "conversations": CONVERSATIONS,
                    "agents_with_room": sum(1 for a in pool if a.has_room),
                    "eligible_mean": round(mean(eligible), 1), "routed_share": round(chosen / decisions, 3),
                    "router_repr": repr(router), "target_p99_ms": TARGET_P99_MS,
                    **{name: summary(values) for name, values in timings.items()}}
    say(f"routing: router {result['router']} (CPU {result['router_cpu']}), least-loaded {result['least_loaded']}")
    return result


def rows(result: Json) -> list[TargetRow]:
    found = []
    for clock_name, suffix in (("wall clock", ""), ("thread CPU time", "_cpu")):
        p99, base = result[f"router{suffix}"]["p99_ms"], result[f"least_loaded{suffix}"]["p99_ms"]
        found.append(TargetRow(f"routing decision p99, {result['agents']:,} agents (in process), {clock_name}",
                               f"{p99:.2f} ms", f"{base:.3f} ms (least-loaded)", ratio(p99, base),
                               f"< {result['target_p99_ms']:g} ms", p99 < result["target_p99_ms"]))
    return found


def lines(result: Json) -> list[str]:
    r = result
    return [f"**Routing.** {r['decisions']:,} decisions by `build_router(handoff/routing.yml)` ({r['router_repr']}) "
            f"over {r['agents']:,} agents in eight timezones (tiers, languages, skills, weekday shifts, 85% online, "
            f"random load; {r['agents_with_room']} have room, on average {r['eligible_mean']} are scored) for "
            f"{r['conversations']} varied waiting conversations, after {WARMUP} uncounted; "
            f"{100 * r['routed_share']:.1f}% found an agent. The baseline picks the least-loaded online agent with "
            "room in one loop over the same pool. Each decision is timed by the wall clock and by the thread's CPU "
            "time.", "",
            *[f"- {name}: p50 {r[key]['p50_ms']:.3f} ms, p99 {r[key]['p99_ms']:.3f} ms, max {r[key]['max_ms']:.3f} ms"
              for name, key in (("router, wall clock", "router"), ("router, thread CPU", "router_cpu"),
                                ("least-loaded, wall clock", "least_loaded"),
                                ("least-loaded, thread CPU", "least_loaded_cpu"))], ""]


BENCHMARK = Benchmark("routing", run, lines, add_arguments=add_arguments, rows=rows)
