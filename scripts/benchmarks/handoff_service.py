"""Real handoff servers for the benchmarks, started by the end-to-end tests' harness: ``python -m handoff
serve`` in one of the two profiles (``embedded``: in-process live state and SQLite; ``production``: Redis and
PostgreSQL), seeded with data/demo, on a free port."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from scripts.benchmarks.base import APP_PY, ROOT
from scripts.benchmarks.report import Output

if TYPE_CHECKING:
    from tests.handoff.e2e.harness import HandoffServer

PROFILES = ("embedded", "production")


@contextmanager
def handoff_server(output: Output, profile: str, rasa_url: str = "", rasa_token: str = "x") -> Iterator[HandoffServer]:
    """One handoff server in ``profile``; with no ``rasa_url`` the bot is absent (a dead port), so a customer's
    first message hands the conversation to a person (``bot_unavailable``)."""
    from scripts.servers import free_port
    from tests.handoff.e2e.harness import running_handoff

    extra = {"HANDOFF_ACCEPT_TIMEOUT": "86400", "HANDOFF_ABANDON_AFTER": "86400", "HANDOFF_LOG_LEVEL": "WARNING"}
    with running_handoff(output.run_dir(profile), profile, rasa_url or f"http://127.0.0.1:{free_port()}",
                         rasa_token, extra) as servers:
        yield servers[0]


def seed_agents(output: Output, server: HandoffServer, count: int, capacity: int) -> list[str]:
    """``count`` extra agents (``bench01``...) in the server's database; their usernames."""
    folder = output.run_dir("seed")
    names = [f"bench{n:02d}" for n in range(1, count + 1)]
    agents = [{"username": name, "name": f"Bench Agent {name[5:]}", "capacity": capacity, "tiers": [1, 2, 3],
               "languages": ["en"], "skills": []} for name in names]
    (folder / "agents.yml").write_text(json.dumps({"agents": agents}))  # JSON is YAML
    done = subprocess.run([str(APP_PY), "-m", "handoff", "seed", str(folder)], cwd=ROOT, env=server.env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"seeding bench agents failed:\n{done.stdout}{done.stderr}")
    return names
