"""Chat with the service as a customer over XMPP, in the terminal (``make run`` starts a local Prosody with a demo
customer account; any XMPP client works too: README, "Trying instant messaging").

    .venv/app/bin/python scripts/xmpp_chat.py [--jid customer@localhost] [--password ...] [--to support@localhost]
                                              [--server 127.0.0.1:5222]

Type a line and press Enter to send it; what the service answers is printed as it arrives; Ctrl-D or Ctrl-C ends.
The password defaults to ``HANDOFF_XMPP_DEMO_PASSWORD``, else the one ``make run`` made and printed
(``var/prosody/customer.password``). :class:`XmppChat` is the same
client for the tests: it signs in over plain text on loopback (SCRAM), as ``make run``'s server allows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from slixmpp import ClientXMPP


class XmppChat:
    """An XMPP account's chat session: :meth:`say` sends, :attr:`received` gets each body that arrives."""

    def __init__(self, jid: str, password: str, server: tuple[str, int], plaintext: bool = True) -> None:
        self.received: asyncio.Queue[str] = asyncio.Queue()
        self._server = server
        self._up = asyncio.Event()
        self.client: Any = ClientXMPP(f"{jid}/chat-{uuid.uuid4().hex[:6]}", password, plugin_config={
            "feature_mechanisms": {"unencrypted_scram": plaintext}})
        self.client.enable_plaintext = plaintext
        self.client.register_plugin("xep_0359")
        self.client.add_event_handler("session_start", self._session_start)
        self.client.add_event_handler("message", self._message)

    def _session_start(self, _: Any) -> None:
        self.client.send_presence()
        self._up.set()

    def _message(self, message: Any) -> None:
        if message["type"] in ("chat", "normal") and str(message["body"] or "").strip():
            self.received.put_nowait(str(message["body"]))

    async def connect(self, timeout: float = 20.0) -> None:
        self.client.connect(*self._server)
        await asyncio.wait_for(self._up.wait(), timeout)

    def say(self, to: str, text: str, stanza_id: str | None = None) -> str:
        """Send ``text`` to ``to`` as a chat message (``stanza_id``: the stanza's id; sending it again with the
        same id is what a client resending after a lost connection does); the id."""
        message = self.client.make_message(mto=to, mbody=text, mtype="chat")
        message["id"] = stanza_id or uuid.uuid4().hex
        message.send()
        return str(message["id"])

    async def next(self, containing: str = "", timeout: float = 60.0) -> str:
        """The next message received that contains ``containing``."""
        async def find() -> str:
            while True:
                body = await self.received.get()
                if containing in body:
                    return body
        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(wait=1.0), 3.0)


def host_port(raw: str) -> tuple[str, int]:
    host, _, port = raw.rpartition(":")
    return host, int(port)


async def chat(args: argparse.Namespace) -> int:
    session = XmppChat(args.jid, args.password, host_port(args.server))
    try:
        await session.connect()
    except TimeoutError:
        print(f"error: could not sign in as {args.jid} at {args.server} (is `make run` running?)", file=sys.stderr)
        return 1
    print(f"Signed in as {args.jid}; writing to {args.to}. Type a message and press Enter (Ctrl-D ends).")

    async def show() -> None:
        while True:
            body = await session.received.get()
            print(f"\n{args.to}: {body}\n> ", end="", flush=True)

    printer = asyncio.create_task(show())
    loop = asyncio.get_running_loop()
    try:
        while True:
            print("> ", end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip():
                session.say(args.to, line.strip())
    finally:
        printer.cancel()
        await session.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jid", default="customer@localhost")
    kept = Path(__file__).resolve().parent.parent / "var" / "prosody" / "customer.password"  # make run's
    parser.add_argument("--password", default=os.environ.get("HANDOFF_XMPP_DEMO_PASSWORD")
                        or (kept.read_text().strip() if kept.exists() else ""))
    parser.add_argument("--to", default="support@localhost")
    parser.add_argument("--server", default="127.0.0.1:" + os.environ.get("HANDOFF_XMPP_PORT", "5222"))
    args = parser.parse_args()
    if not args.password:
        parser.error("--password (or HANDOFF_XMPP_DEMO_PASSWORD): make run prints the demo customer's")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(chat(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
