"""Message bodies stay out of the logs above DEBUG: a write that fails is logged with the conversation's id and
its traceback, and without what the customer wrote (in both profiles, the database refusing the write for
real). DEBUG may show them (the drivers' own DEBUG records do): it is for a developer's machine."""

from __future__ import annotations

import contextlib
import logging
import sqlite3

import asyncpg
import httpx
import pytest

from tests.handoff.adapters.tickets.conftest import POSTGRES_ADMIN
from tests.handoff.web.asgi_socket import AsgiSocket, Closed
from tests.handoff.web.conftest import Serve

SECRET = "my IBAN is DE89 3704 0044 0532 0130 00"


async def refuse_messages_saying_iban(database_url: str) -> None:
    """A trigger in the ticket database that fails every insert of a message mentioning an IBAN."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text LIKE '%IBAN%' "
                       "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        return
    db = await asyncpg.connect(POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + database_url.rsplit("/", 1)[1])
    try:
        await db.execute("""
            CREATE FUNCTION refuse() RETURNS trigger AS $$
            BEGIN IF NEW.text LIKE '%IBAN%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse();""")
    finally:
        await db.close()


async def test_a_failed_write_is_logged_with_the_conversation_not_the_message(
        serve: Serve, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = await serve()
    await refuse_messages_saying_iban(database_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as api:
        data = (await api.post("/api/conversations", json={})).json()
    query = {"conversation_id": data["conversation_id"], "token": data["customer_token"]}
    with caplog.at_level(logging.DEBUG):
        async with AsgiSocket(app, "/ws/customer", query) as socket:
            await socket.next("hello")
            await socket.send_json({"type": "message", "text": SECRET, "client_id": "m-1"})
            with contextlib.suppress(Closed):  # refused: an error frame, or the socket closes
                assert (await socket.next("error"))["client_id"] == "m-1"
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(data["conversation_id"] in r.getMessage() for r in failures), [r.getMessage() for r in failures]
    formatter = logging.Formatter()  # what a handler prints of each record above DEBUG, traceback included
    everything = "".join(formatter.format(r) for r in caplog.records if r.levelno > logging.DEBUG)
    assert "refused by the test" in everything  # the traceback is there
    assert "IBAN" not in everything and "DE89" not in everything
