"""``python -m handoff customer export|delete`` and ``python -m handoff retention`` on a ticket database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.cli import main
from handoff.core.model import ConversationId, CustomerId

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


async def customer_with_a_conversation(url: str, email: str, when: datetime) -> None:
    log = await TicketLog.open(url)
    try:
        customer = CustomerId(f"cu_{email.split('@')[0]}")
        await log.people.upsert_customer(customer, name="Jo", email=email, now=when)
        await log.conversations.create_conversation(ConversationId(f"c_{customer}"), customer, "web", when)
        await log.conversations.add_message(ConversationId(f"c_{customer}"), "customer", "my address is 1 Main St",
                                            now=when)
    finally:
        await log.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    printed: dict[str, object] = json.loads(capsys.readouterr().out)
    return printed


def test_customer_export_and_delete_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(customer_with_a_conversation(database, "jo@example.com", datetime.now(UTC)))
    exported = run(capsys, "customer", "export", "--email", "JO@example.com")
    [customer] = exported["customers"]  # type: ignore[misc]
    assert customer["customer"]["email"] == "jo@example.com"
    assert [m["text"] for m in customer["conversations"][0]["messages"]] == ["my address is 1 Main St"]
    assert run(capsys, "customer", "delete", "--conversation-id", "c_cu_jo") == {"customers": 1, "conversations": 1}
    assert main(["customer", "export", "--email", "jo@example.com"]) == 2
    assert "No customer has that email" in capsys.readouterr().err


def test_retention_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(customer_with_a_conversation(database, "old@example.com", LONG_AGO))
    asyncio.run(customer_with_a_conversation(database, "new@example.com", datetime.now(UTC)))
    result = run(capsys, "retention")
    assert (result["conversations"], result["customers"]) == (1, 1)
    assert main(["customer", "export", "--email", "old@example.com"]) == 2
    assert run(capsys, "customer", "export", "--email", "new@example.com")["customers"]
