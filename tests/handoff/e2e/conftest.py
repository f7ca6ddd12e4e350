"""Fixtures of the handoff tests: one real assistant (Rasa + actions) for the session, servers per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.handoff.e2e.harness import HandoffServer, running_handoff
from tests.servers import Assistant, running_assistant

PROFILES = ["embedded", "production"]


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    with running_assistant(tmp_path_factory.mktemp("bot")) as assistant:
        yield assistant


@pytest.fixture(params=PROFILES)
def server(request: pytest.FixtureRequest, bot: Assistant, tmp_path: Path) -> Iterator[HandoffServer]:
    """One handoff server in each profile, talking to the real bot."""
    with running_handoff(tmp_path, request.param, bot.rasa_url, bot.token) as servers:
        yield servers[0]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[HandoffServer]:
    """One handoff server (embedded profile) with no bot behind it, for the console's views that need none."""
    with running_handoff(tmp_path, "embedded", "http://127.0.0.1:9", "unused-token") as servers:
        yield servers[0]
