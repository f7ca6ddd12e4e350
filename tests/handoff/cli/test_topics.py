"""``python -m handoff topics`` on a ticket database: progress on standard error, the topics as JSON, kept."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.cli import main
from handoff.core.model import ConversationId, CustomerId, Priority

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
TEXTS = [*(f"Where is my refund for the returned {item}?" for item in ("jacket", "shoes", "dress", "boots")),
         *(f"My parcel with the {item} never arrived, tracking is stuck" for item in ("jacket", "shoes", "lamp", "hat"))]


async def hand_offs(url: str) -> None:
    log = await TicketLog.open(url)
    try:
        for n, text in enumerate(TEXTS):
            when = MONDAY + timedelta(hours=n + 1)
            customer, conversation = CustomerId(f"cu_{n}"), ConversationId(f"c_{n}")
            await log.people.upsert_customer(customer, name=None, email=None, now=when)
            await log.conversations.create_conversation(conversation, customer, "web", when)
            await log.conversations.add_message(conversation, "customer", text, now=when)
            await log.tickets.open_ticket(conversation, customer, "web", now=when + timedelta(seconds=5),
                                          priority=Priority.NORMAL, tier=1, category=None, request=None,
                                          reasons=[], summary="")
    finally:
        await log.close()


def test_topics_of_a_week_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(hand_offs(database))
    assert main(["topics", "--week", "2026-W48"]) == 0
    printed = capsys.readouterr()
    result = json.loads(printed.out)
    assert "8 conversations handed off or rated low" in printed.err and "2 topics kept" in printed.err
    assert result["texts"] == 8 and sorted(t["size"] for t in result["topics"]) == [4, 4]
    assert sorted(bool({"refund", "parcel"} & set(t["keywords"])) for t in result["topics"]) == [True, True]

    async def kept() -> int:
        log = await TicketLog.open(database)
        try:
            run = await log.analytics.run(MONDAY, MONDAY + timedelta(days=7))
            return len(run.topics) if run else 0
        finally:
            await log.close()

    assert asyncio.run(kept()) == 2
    assert main(["topics", "--since", "2026-11-23", "--until", "2026-11-30"]) == 0
    assert json.loads(capsys.readouterr().out)["texts"] == 8  # the same period: replaced, not added


def test_topics_refuses_half_a_period(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "--since", "2026-11-23"]) == 2
    assert "both --since and --until" in capsys.readouterr().err
    assert main(["topics", "--since", "2026-11-30", "--until", "2026-11-23"]) == 2
    assert main(["topics", "--week", "2026-W99"]) == 2
