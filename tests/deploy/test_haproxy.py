"""The load-balanced deployment of docs/deployment.md: Debian's HAProxy with ``deploy/haproxy.cfg`` in front of
two handoff instances and two Rasa servers (production profile: a private Redis and PostgreSQL, the real action
server), driven through the balancer by the real widget and console in headless Chromium.

The widget and the console work through it, WebSockets included; each handoff instance is then killed (kill -9)
in turn while a customer and an agent talk, and both reconnect through the balancer to the other instance with
nothing lost or doubled: what each side typed, even while its socket was down, reaches the other side once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from scripts.cluster import Cluster, Postgres, Process, build_cluster, stop_cluster
from tests.handoff.e2e.browser import Desk, Shopper, browsers, eventually, expect
from tests.handoff.e2e.harness import PASSWORD

pytestmark = pytest.mark.slow

HUMAN = "I want to talk to a human"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="balanced-"))  # not under pytest's: PostgreSQL runs as its own user
    started: list[Process | Postgres] = []
    try:
        yield build_cluster(folder, 2, started, PASSWORD, rasa_instances=2, balanced=True)
    finally:
        stop_cluster(started)
        shutil.rmtree(folder, ignore_errors=True)


async def stats(cluster: Cluster) -> dict[str, dict[str, str]]:
    """HAProxy's statistics (its CSV), by ``backend/server``."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(cluster.stats_url + "/;csv")).text.lstrip("# ")
    return {f"{row['pxname']}/{row['svname']}": row for row in csv.DictReader(io.StringIO(text))}


async def server_is(cluster: Cluster, server: str, status: str) -> bool:
    return (await stats(cluster))[f"handoff/{server}"]["status"].startswith(status)


async def test_widget_and_console_work_through_the_balancer_and_survive_losing_either_instance(
        cluster: Cluster, tmp_path: Path) -> None:
    url = cluster.public_url
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), url)
        await desk.sign_in("grace")
        shop = Shopper(await open_browser.open("customer"), url)
        sockets: list[str] = []
        received: list[str] = []

        def opened(socket: object) -> None:
            sockets.append(socket.url)  # type: ignore[attr-defined]
            socket.on("framereceived", lambda payload: received.append(str(payload)))  # type: ignore[attr-defined]

        shop.page.on("websocket", opened)
        await shop.visit()

        # The bot answers through the balancer, Rasa's turn taken by either Rasa server behind it.
        await shop.say("how much does shipping cost?")
        await expect(shop.said_by("bot").first).to_contain_text(re.compile(r"\$|deliver|ship", re.I))
        await shop.say("What is your returns policy?")
        await expect(shop.said_by("bot")).to_have_count(2, timeout=30_000)
        # The widget's messages went over a WebSocket upgraded through HAProxy (not a fallback).
        assert sockets and all(s.startswith(url.replace("http://", "ws://") + "/ws/customer") for s in sockets)
        assert any('"type": "message"' in frame or '"type":"message"' in frame for frame in received)

        await shop.say(HUMAN)
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        await expect(desk.page.get_by_test_id("mine-item")).to_have_count(1)
        await desk.reply("Hello, Grace here.")
        await expect(shop.bubble("Hello, Grace here.", "agent")).to_have_count(1)

        for number, instance in enumerate(cluster.handoff):
            name = f"handoff{number + 1}"
            instance.kill()
            # Both type at once, their sockets possibly on the instance just killed: each message waits in its
            # page's outbox until the page has reconnected through the balancer, then is sent once.
            await shop.say(f"customer line {number} while one instance is down")
            await desk.reply(f"agent line {number} while one instance is down")
            await expect(desk.lines(f"customer line {number} while one instance is down", "customer")
                         ).to_have_count(1, timeout=30_000)
            await expect(shop.bubble(f"agent line {number} while one instance is down", "agent")
                         ).to_have_count(1, timeout=30_000)
            assert await eventually(lambda name=name: server_is(cluster, name, "DOWN"))  # type: ignore[misc]
            await expect(shop.state).to_have_text("Grace Hopper (agent)")
            await asyncio.to_thread(instance.start)  # back before the other one goes
            assert await eventually(lambda name=name: server_is(cluster, name, "UP"))  # type: ignore[misc]

        # Each instance carried some of the traffic, and the customer's socket came back at least once.
        counts = await stats(cluster)
        assert int(counts["handoff/handoff1"]["stot"]) > 0 and int(counts["handoff/handoff2"]["stot"]) > 0
        assert int(counts["rasa/rasa1"]["stot"]) > 0 and int(counts["rasa/rasa2"]["stot"]) > 0
        assert len(sockets) >= 2

        # The ticket log holds each line once, in the order typed.
        database = await asyncpg.connect(cluster.postgres.url())
        try:
            rows = await database.fetch("SELECT sender, text FROM messages ORDER BY id")
        finally:
            await database.close()
        said = [(r["sender"], r["text"]) for r in rows if r["sender"] in ("customer", "agent")]
        assert said[:4] == [("customer", "how much does shipping cost?"), ("customer", "What is your returns policy?"),
                            ("customer", HUMAN), ("agent", "Hello, Grace here.")]
        for sender in ("customer", "agent"):  # each side's lines once each, in the order that side typed them
            assert [text for who, text in said[4:] if who == sender] == [
                f"{sender} line {n} while one instance is down" for n in (0, 1)]
        assert len(said) == 8
        for line in ("customer line 0 while one instance is down", "customer line 1 while one instance is down"):
            await expect(shop.bubble(line, "customer")).to_have_count(1)
        desk.actor.check_clean()
        shop.actor.check_clean()
