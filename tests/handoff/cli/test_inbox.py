"""``python -m handoff inbox export`` on a ticket database: the confirmed examples written to the file named,
what was written as JSON, the unconfirmed left out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff.adapters.tickets import TicketLog
from handoff.cli import main
from handoff.core.model import ConversationId, CustomerId

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


async def decided(url: str) -> None:
    log = await TicketLog.open(url)
    try:
        await log.people.upsert_customer(CustomerId("cu_1"), now=NOW)
        await log.conversations.create_conversation(ConversationId("c_1"), CustomerId("cu_1"), "web", NOW)
        ids = []
        for text in ("zqx where is my parcel", "zqx a recipe please", "zqx asdf"):
            message, _ = await log.conversations.add_message(ConversationId("c_1"), "customer", text, now=NOW)
            item = await log.inbox.note(message.id, ["fallback"], [{"name": "order_status", "confidence": 0.3}], NOW)
            assert item is not None
            ids.append(item.id)
        await log.inbox.decide([ids[0]], "labelled", "delivery_tracking", "a_tess", NOW)
        await log.inbox.decide([ids[1]], "out_of_scope", "out_of_scope", "a_tess", NOW)
    finally:
        await log.close()


def test_inbox_export_writes_the_confirmed_examples(database: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(decided(database))
    out = tmp_path / "train" / "data" / "nlu" / "inbox.yml"
    assert main(["inbox", "export", "--out", str(out)]) == 0
    told = json.loads(capsys.readouterr().out)
    assert told == {"file": {"path": str(out), "written": True, "examples": 2}, "conflicts": []}
    assert out.read_text().endswith('version: "3.1"\nnlu:\n- intent: delivery_tracking\n  examples: |\n'
                                    "    - zqx where is my parcel\n- intent: out_of_scope\n  examples: |\n"
                                    "    - zqx a recipe please\n")
    assert not (tmp_path / "never.yml").exists()
    assert main(["inbox", "export", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["file"]["written"] is False  # the same text: left as it is
