"""The handoff service's benchmarks (``scripts/bench_handoff.py``): one section of docs/benchmarks.md."""

from __future__ import annotations

from scripts.benchmarks import escalation, idle, queue_update, relay, routing
from scripts.benchmarks.base import Flags, Section, Suite

DESCRIPTION = """\
Benchmarks of the handoff service against its targets, each beside a baseline measured in the same run, in
both profiles where it applies (embedded: in-process live state and SQLite; production: Redis and PostgreSQL):
routing (one decision with 1,000 agents), queue updates (one change of the queue with 10 to 1,000 waiting),
escalation (to the agent's console), relay (customer -> agent at several rates) and idle (10,000 idle
customer sockets).

Writes build/bench/handoff.json, docs/img/handoff-*.png and the "Handoff service" section of
docs/benchmarks.md (or all of it under --out DIR). --seconds, --connections and friends make short runs."""

SECTION = Section(
    "Handoff service",
    (routing.BENCHMARK, queue_update.BENCHMARK, escalation.BENCHMARK, relay.BENCHMARK, idle.BENCHMARK),
    intro=("Servers, clients, Redis and PostgreSQL share the machine's cores, so every load figure includes the "
           "load generators' own CPU; each baseline ran in the same run.",))


def add_arguments(flags: Flags) -> None:
    flags.add_argument("--profile-seconds", type=float, default=10.0,
                       help="py-spy the relay's target step this long, and escalations when their target is "
                            "missed (0: never profile)")


SUITE = Suite("handoff", "scripts/bench_handoff.py", DESCRIPTION, (SECTION,), add_arguments)
