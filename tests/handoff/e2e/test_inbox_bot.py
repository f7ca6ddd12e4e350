"""The NLU inbox with the real bot behind the service, in both profiles: a question the assistant does not
support is handed off and lands in the inbox with the model's own ranking (Rasa's tracker, read after the
turn), a message it cannot make out lands as a fallback, and a trainer's label writes Rasa training data. The
inbox's behaviour is specified in process (tests/handoff/service/test_inbox.py); this checks the real tracker's
parse data is what the service reads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.handoff.e2e.harness import Agent, Customer, HandoffServer
from tests.handoff.frames import message_from, of_type

RECIPE = "can you recommend a good lasagne recipe?"
GIBBERISH = "blorp zibble fnarg wibble"


async def said_to_the_bot(server: HandoffServer, text: str) -> None:
    customer = await Customer.start(server)
    socket = await customer.connect()
    await socket.next(of_type("hello"))
    await customer.say(socket, text)
    await socket.next(message_from("bot"))
    await socket.close()


async def inbox_items(tess: Agent, count: int) -> list[dict[str, Any]]:
    """The open items once there are ``count`` (the tracker is read after the bot's replies are relayed)."""
    deadline = time.monotonic() + 20
    while True:
        page = (await tess.call("GET", "/api/inbox")).json()
        found = [item for group in page["groups"] for item in group["items"]]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def test_what_the_real_bot_was_unsure_about_reaches_the_inbox(server: HandoffServer) -> None:
    await said_to_the_bot(server, RECIPE)
    await said_to_the_bot(server, GIBBERISH)
    tess = await Agent.sign_in(server, "tess")
    found = {item["text"]: item for item in await inbox_items(tess, 2)}
    assert set(found) == {RECIPE, GIBBERISH}
    recipe, gibberish = found[RECIPE], found[GIBBERISH]
    assert "handed_off" in recipe["reasons"]
    assert recipe["intents"] and recipe["intents"][0]["name"] == "out_of_scope"
    assert all(0 <= i["confidence"] <= 1 and i["name"] != "nlu_fallback" for i in recipe["intents"])
    assert "fallback" in gibberish["reasons"] and len(gibberish["intents"]) >= 2

    decided = await tess.call("POST", "/api/inbox/decisions", json={"item_ids": [recipe["id"]],
                                                                    "decision": "out_of_scope"})
    assert decided.status_code == 200, decided.text
    written = Path(server.env["HANDOFF_INBOX_FILE"]).read_text()
    assert f"- intent: out_of_scope\n  examples: |\n    - {RECIPE}\n" in written
