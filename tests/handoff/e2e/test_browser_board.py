"""The supervisors' board in headless Chromium, against the real service and bot, in both profiles: a supervisor
sees the board, watches a conversation live (read-only), whispers to its agent (who sees it; the customer does
not) and reassigns it (the other agent gets it)."""

from __future__ import annotations

from pathlib import Path

from tests.handoff.e2e.browser import Desk, Shopper, browsers, eventually, expect
from tests.handoff.e2e.harness import HandoffServer

HUMAN = "I want to talk to a human"
WHISPER = "Offer free shipping on the next order"


async def presence(desk: Desk, wanted: str) -> None:
    """Set the signed-in person's presence in the console, and wait until the service has it."""
    await desk.page.get_by_test_id("presence").select_option(wanted)

    async def done() -> bool:
        return bool((await desk.api("/api/me"))["presence"] == wanted)
    assert await eventually(done)


async def test_browser_supervisor_watches_whispers_and_reassigns(server: HandoffServer, tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        grace = Desk(await open_browser.open("grace"), server.url)
        await grace.sign_in("grace")
        ada = Desk(await open_browser.open("ada"), server.url)
        await ada.sign_in("ada")
        await presence(ada, "away")  # a supervisor takes conversations too: not this one
        linus = Desk(await open_browser.open("linus"), server.url)
        await linus.sign_in("linus")
        await presence(linus, "away")
        shop = Shopper(await open_browser.open("customer"), server.url)
        await shop.visit()
        await shop.say(HUMAN)
        await expect(shop.state).to_have_text("Grace Hopper (agent)")
        conversation_id = (await shop.stored())["conversationId"]
        await expect(grace.page.get_by_test_id("mine-item")).to_have_count(1)

        # the board
        await expect(grace.page.get_by_test_id("board-tab")).to_be_hidden()
        await ada.page.get_by_test_id("board-tab").click()
        board = ada.page.get_by_test_id("board-view")
        await expect(board.get_by_test_id("board-queue-length")).to_have_text("0")
        row = board.locator(f'[data-testid="agent-conversation"][data-conversation-id="{conversation_id}"]')
        await expect(row).to_have_count(1)
        grace_row = board.locator('[data-testid="agent-row"]').filter(has_text="Grace Hopper")
        await expect(grace_row.get_by_test_id("agent-presence")).to_have_text("Online")
        await expect(grace_row.get_by_test_id("agent-load")).to_have_text("1 / 3")

        # watch it: the transcript so far, then what the customer says now
        await row.get_by_test_id("watch").click()
        panel = board.get_by_test_id("watch-panel")
        await expect(panel.get_by_test_id("read-only")).to_be_visible()
        await expect(panel.get_by_test_id("watch-meta")).to_contain_text("with Grace Hopper")
        watched = panel.get_by_test_id("watched-message")
        await expect(watched.filter(has_text=HUMAN)).to_have_count(1)
        await expect(ada.page.get_by_test_id("reply-input")).to_be_hidden()  # no composer to the customer
        await shop.say("Is anybody there?")
        await expect(watched.filter(has_text="Is anybody there?")).to_have_count(1)
        await grace.reply("Yes, Grace here.")
        await expect(watched.filter(has_text="Yes, Grace here.")).to_have_count(1)
        await expect(shop.said_by("system").filter(has_text="watch")).to_have_count(0)

        # whisper: the agent sees it, the customer never does
        await panel.get_by_test_id("whisper-input").fill(WHISPER)
        await panel.get_by_test_id("whisper-send").click()
        whisper = grace.transcript.locator('[data-testid="note"][data-whisper="true"]')
        await expect(whisper).to_contain_text(WHISPER)
        await expect(whisper).to_contain_text("Whisper from Ada Lovelace")
        await expect(panel.get_by_test_id("watched-note").filter(has_text=WHISPER)).to_have_count(1)
        await shop.say("Thanks")
        await expect(grace.lines("Thanks", "customer")).to_have_count(1)
        await expect(shop.messages.filter(has_text=WHISPER)).to_have_count(0)
        assert WHISPER not in await shop.page.content()

        # reassign to linus: he gets it, grace no longer has it
        await presence(linus, "online")
        linus_id = next(a["id"] for a in (await ada.api("/api/agents"))["agents"] if a["name"] == "Linus Berg")
        target = panel.get_by_test_id("reassign-target")
        await expect(target.locator(f'option[value="{linus_id}"]')).to_contain_text("online")
        await target.select_option(linus_id)
        await panel.get_by_test_id("reassign").click()
        await expect(linus.page.locator(f'[data-testid="mine-item"][data-conversation-id="{conversation_id}"]')
                     ).to_have_count(1)
        await expect(grace.page.get_by_test_id("mine-item")).to_have_count(0)
        await expect(shop.state).to_have_text("Linus Berg (agent)")
        await expect(panel.get_by_test_id("watch-meta")).to_contain_text("with Linus Berg")
        linus_row = board.locator('[data-testid="agent-row"]').filter(has_text="Linus Berg")
        await expect(linus_row.locator(f'[data-conversation-id="{conversation_id}"]')).to_have_count(1)
        for desk in (ada, grace, linus):
            desk.actor.check_clean()
        shop.actor.check_clean()
