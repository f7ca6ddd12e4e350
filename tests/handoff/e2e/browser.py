"""Headless Chromium driving the real widget and console (Playwright, Debian's chromium, no downloaded browsers).

Each actor (a customer, an agent) gets a browser of their own with a fresh user-data dir, so cookies and
localStorage never leak between them. ``SocketTap`` sits between a page and the service's WebSocket
(Playwright's ``route_web_socket``): it relays every frame and can cut the connection, refuse reconnects for a
while, or drop the link just as a message goes out, to show the pages recover without losing or doubling a message.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Dialog, Locator, Page, Playwright, WebSocketRoute, async_playwright
from playwright.async_api import expect as _expect

from tests.handoff.e2e.harness import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000  # how long an expectation waits
_expect.set_options(timeout=WAIT_MS)
expect = _expect


@dataclass
class Actor:
    """One person's browser: its page, and what went wrong in it (uncaught errors, dialogs)."""

    context: BrowserContext
    page: Page
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def check_clean(self) -> None:
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"


class Browsers:
    """Opens one Chromium per actor, each on its own fresh profile under ``tmp``."""

    def __init__(self, playwright: Playwright, tmp: Path) -> None:
        self._playwright = playwright
        self._tmp = tmp
        self._contexts: list[BrowserContext] = []

    async def open(self, name: str) -> Actor:
        context = await self._playwright.chromium.launch_persistent_context(
            str(self._tmp / f"profile-{name}"), executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1280, "height": 860})
        self._contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        page = context.pages[0] if context.pages else await context.new_page()
        actor = Actor(context, page)
        page.on("pageerror", lambda error: actor.page_errors.append(str(error)))

        async def dismiss(dialog: Dialog) -> None:
            actor.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        page.on("dialog", dismiss)
        return actor

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()


@asynccontextmanager
async def browsers(tmp: Path) -> AsyncIterator[Browsers]:
    if not CHROMIUM.exists():
        raise RuntimeError("Chromium is missing: make test installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        opened = Browsers(playwright, tmp)
        try:
            yield opened
        finally:
            await opened.close()


class SocketTap:
    """A relay between a page and the service's sockets that a test can break on purpose."""

    def __init__(self) -> None:
        self.down = False
        self.drop_after_next_message = False
        self.connections = 0
        self._live: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    async def install(self, page: Page, path: str) -> None:
        await page.route_web_socket(re.compile(re.escape(path)), self._handle)

    async def _handle(self, page_side: WebSocketRoute) -> None:
        if self.down:  # the service is unreachable: the handshake fails
            await page_side.close(code=1011, reason="unreachable")
            return
        self.connections += 1
        server_side = page_side.connect_to_server()
        pair = (page_side, server_side)
        self._live.append(pair)
        page_side.on_message(lambda frame: self._to_server(pair, frame))
        server_side.on_message(page_side.send)

    def _to_server(self, pair: tuple[WebSocketRoute, WebSocketRoute], frame: str | bytes) -> None:
        pair[1].send(frame)
        if self.drop_after_next_message and isinstance(frame, str) and json.loads(frame).get("type") == "message":
            # The message reaches the service, but the page hears nothing back: not the ack, not the echo.
            self.drop_after_next_message = False
            self._live.remove(pair)
            asyncio.get_running_loop().create_task(self._close(pair))

    @staticmethod
    async def _close(pair: tuple[WebSocketRoute, WebSocketRoute]) -> None:
        page_side, server_side = pair
        await page_side.close(code=4000, reason="link dropped")
        await server_side.close(code=1001)

    async def cut(self, *, stay_down: bool) -> None:
        """Drop every live connection; with ``stay_down`` new ones fail until ``restore``."""
        self.down = stay_down
        while self._live:
            await self._close(self._live.pop())

    def restore(self) -> None:
        self.down = False


# ---- the customer's widget on the demo shop -------------------------------------------------------------------

class Shopper:
    """The customer on the demo shop page, talking through the embedded widget."""

    def __init__(self, actor: Actor, base_url: str) -> None:
        self.actor, self.page, self.base_url = actor, actor.page, base_url

    async def visit(self) -> None:
        await self.page.goto(self.base_url + "/")
        await self.page.get_by_test_id("bw-launcher").click()
        await expect(self.page.get_by_test_id("bw-panel")).to_be_visible()

    async def say(self, text: str) -> None:
        box = self.page.get_by_test_id("bw-input")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    @property
    def messages(self) -> Locator:
        return self.page.get_by_test_id("bw-message")

    def said_by(self, sender: str) -> Locator:
        return self.page.locator(f'[data-testid="bw-message"][data-sender="{sender}"]')

    def bubble(self, text: str, sender: str | None = None) -> Locator:
        """Bubbles whose text (without the sender line and status) is exactly ``text``."""
        base = self.said_by(sender) if sender else self.messages
        return base.filter(has=self.page.locator(".text").get_by_text(text, exact=True))

    @property
    def state(self) -> Locator:
        return self.page.get_by_test_id("bw-state")

    async def stored(self) -> dict[str, Any]:
        """What the widget keeps in localStorage (conversation id, token, last id, outbox)."""
        saved: dict[str, Any] = await self.page.evaluate(
            "() => JSON.parse(localStorage.getItem('brightwood-widget:' + location.origin) || '{}')")
        return saved


# ---- the agent console -----------------------------------------------------------------------------------------

class Desk:
    """An agent in the console."""

    def __init__(self, actor: Actor, base_url: str) -> None:
        self.actor, self.page, self.base_url = actor, actor.page, base_url
        self.refused: list[str] = []  # what the CSP (script-src, style-src 'self') blocked, as the page logged it
        self.page.on("console", lambda m: self.refused.append(m.text) if "Content Security Policy" in m.text else None)

    async def sign_in(self, username: str, *, desk: bool = True) -> None:
        """Sign in; ``desk``: one who takes conversations, online once signed in (a trainer is not)."""
        await self.page.goto(self.base_url + "/console")
        await self.page.get_by_test_id("login-username").fill(username)
        await self.page.get_by_test_id("login-password").fill(PASSWORD)
        await self.page.get_by_test_id("login-submit").click()
        await expect(self.page.locator("#app")).to_be_visible()
        if desk:
            await expect(self.page.get_by_test_id("presence")).to_have_value("online")

    @property
    def transcript(self) -> Locator:
        return self.page.get_by_test_id("transcript")

    def lines(self, text: str, sender: str | None = None) -> Locator:
        """Transcript messages whose text is exactly ``text``."""
        where = f'[data-testid="message"][data-sender="{sender}"]' if sender else '[data-testid="message"]'
        return self.transcript.locator(where).filter(has=self.page.locator(".msg-text").get_by_text(text, exact=True))

    async def reply(self, text: str) -> None:
        box = self.page.get_by_test_id("reply-input")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")

    async def api(self, path: str) -> Any:
        """GET an API path with the console's own session cookie."""
        response = await self.page.request.get(self.base_url + path)
        assert response.ok, f"GET {path}: {response.status} {await response.text()}"
        return await response.json()


def texts_of(messages: list[dict[str, Any]], sender: str) -> list[str]:
    return [m["text"] for m in messages if m["sender"] == sender]


async def eventually(check: Callable[[], Any], timeout: float = WAIT_MS / 1000) -> Any:
    """Poll an async ``check`` until it returns something truthy (for server state pages do not show)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.2)
