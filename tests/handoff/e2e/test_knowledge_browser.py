"""A knowledge gap turned into an article, on the running product: the real assistant (Rasa and the action server)
and a handoff server share a copy of the knowledge base (sources and index in tmp_path). A customer asks what no
article answers; the bot hands off (``no_answer``); an agent answers by hand. Tess, the trainer, finds the question
under Knowledge > Gaps in headless Chromium with the agent's reply as the draft, edits it into an article and
publishes it. The same question, asked again of the running bot, is answered from the new article with its
citation and version, and nothing was restarted. The workbench's rules are specified in process
(tests/handoff/service/test_knowledge.py, tests/knowledge/test_live.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import pytest

from tests.handoff.e2e.browser import browsers, expect
from tests.handoff.e2e.harness import PASSWORD, Agent, Customer, HandoffServer, running_handoff
from tests.handoff.frames import message_from, of_type
from tests.handoff.library import knowledge_copy
from tests.servers import Assistant, running_assistant

QUESTION = "Can I pay with bitcoin?"
REPLY = "We don't take bitcoin or other crypto-currencies; you can pay by card, PayPal or bank transfer."
ANSWER = ("We don't accept bitcoin or any other cryptocurrency. You can pay by card, PayPal or bank transfer "
          "instead.")


@dataclass
class Product:
    assistant: Assistant
    server: HandoffServer
    sources: Path


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    """The assistant and one handoff server (embedded) on one copy of the knowledge base, checked every 0.5 s."""
    settings = knowledge_copy(tmp_path / "knowledge")
    (tmp_path / "bot").mkdir()
    env = {"KB_SOURCES": str(settings.sources), "KB_INDEX_DIR": str(settings.index_dir), "KB_RELOAD_INTERVAL": "0.5"}
    with running_assistant(tmp_path / "bot", env) as assistant, \
            running_handoff(tmp_path, "embedded", assistant.rasa_url, assistant.token, extra_env=env) as servers:
        yield Product(assistant, servers[0], settings.sources)


async def cited_answer(server: HandoffServer, text: str) -> dict[str, Any] | None:
    """A new customer says ``text``: the citation of the bot's answer, or None when it handed off instead."""
    customer = await Customer.start(server)
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await customer.say(socket, text)
    frame = await socket.next(lambda f: citation(f) is not None or f.get("type") == "state", timeout=30)
    await socket.close()
    return citation(frame)


def citation(frame: dict[str, Any]) -> dict[str, Any] | None:
    """The citation a bot message frame carries (Rasa's ``custom`` payload), if any."""
    message = frame.get("message") or {}
    custom = (message.get("payload") or {}).get("custom") if message.get("sender") == "bot" else None
    found = custom.get("citation") if isinstance(custom, dict) else None
    return dict(found) if isinstance(found, dict) else None


async def test_browser_a_gap_becomes_an_article_the_running_bot_answers_with(product: Product, tmp_path: Path) -> None:
    server = product.server
    started = {p.pid for p in server.processes}

    # a customer asks what no article answers: handed off, and grace answers by hand
    grace = await Agent.sign_in(server, "grace")
    desk = await grace.connect()
    await desk.next(of_type("hello"))
    customer = await Customer.start(server)
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await customer.say(socket, QUESTION)
    assigned = await desk.next(of_type("assigned"), timeout=30)
    assert "no_answer" in assigned["conversation"]["reasons"]
    await grace.say(desk, customer.conversation_id, REPLY)
    await socket.next(message_from("agent"))
    await socket.close()
    await desk.close()

    async with browsers(tmp_path) as open_browser:
        actor = await open_browser.open("tess")
        page = actor.page
        await page.goto(server.url + "/console")
        await page.get_by_test_id("login-username").fill("tess")
        await page.get_by_test_id("login-password").fill(PASSWORD)
        await page.get_by_test_id("login-submit").click()
        await page.get_by_test_id("knowledge-tab").click()
        gap = page.get_by_test_id("knowledge-gap").filter(has_text=QUESTION)
        await expect(gap).to_have_count(1)
        await expect(gap.locator("[data-reason=no_answer]")).to_be_visible()
        await expect(gap.get_by_test_id("knowledge-gap-draft")).to_have_text(REPLY)
        await gap.get_by_test_id("knowledge-gap-write").click()

        editor = page.get_by_test_id("knowledge-editor")
        await expect(editor).to_be_visible()
        await expect(page.get_by_test_id("knowledge-body")).to_have_value(REPLY)
        await expect(page.get_by_test_id("knowledge-questions")).to_have_value(QUESTION)
        await page.get_by_test_id("knowledge-id").fill("payments-bitcoin")
        await page.get_by_test_id("knowledge-category").fill("payments")
        await page.get_by_test_id("knowledge-title").fill("Paying with bitcoin")
        await page.get_by_test_id("knowledge-body").fill(ANSWER)
        await page.get_by_test_id("knowledge-tags").fill("payments, crypto")
        await page.get_by_test_id("knowledge-review-by").fill("2027-06-30")
        published_at = time.monotonic()
        await page.get_by_test_id("knowledge-publish").click()
        await expect(page.locator("#toasts .toast").last).to_contain_text("payments-bitcoin published")
        await expect(page.get_by_test_id("knowledge-gaps-pane")).to_be_visible()
        await expect(page.get_by_test_id("knowledge-gap").filter(has_text=QUESTION)).to_have_count(0)

        await page.get_by_test_id("knowledge-pane-articles").click()
        row = page.get_by_test_id("knowledge-article").and_(page.locator("[data-article-id=payments-bitcoin]"))
        await expect(row).to_contain_text("Paying with bitcoin")
        actor.check_clean()

    source = frontmatter.load(str(product.sources / "payments" / "payments-bitcoin.md"))
    assert source["review_by"] == "2027-06-30" and source.content == ANSWER
    tess = await Agent.sign_in(server, "tess")
    version = (await tess.call("GET", "/api/knowledge/articles/payments-bitcoin")).json()["version"]

    # the same question, asked again of the running bot: the new article, cited with its version
    deadline = published_at + 20
    while True:
        found = await cited_answer(server, QUESTION)
        if (found and found["article_id"] == "payments-bitcoin") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert found is not None and found["article_id"] == "payments-bitcoin", found
    assert found["version"] == version and found["title"] == "Paying with bitcoin"
    replies = product.assistant.say("after-publishing", QUESTION)
    assert any(r.get("text", "").startswith("We don't accept bitcoin") for r in replies)
    assert {p.pid for p in server.processes} == started and all(p.poll() is None for p in server.processes)
