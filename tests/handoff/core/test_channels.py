"""Channels: one interface, a table of names, one resolver; e-mail renders within its limits."""

from __future__ import annotations

import pytest

from handoff.core.channels import (
    CHANNELS,
    ChannelTable,
    EmailChannel,
    Outbound,
    outbound_of,
    reply_thread,
    resolve_channels,
)
from handoff.core.errors import SettingsError


def test_the_table_names_every_channel_and_web_is_always_run() -> None:
    assert sorted(CHANNELS) == ["email", "web"]
    assert sorted(resolve_channels([])) == ["web"]
    assert sorted(resolve_channels(["email"])) == ["email", "web"]
    with pytest.raises(SettingsError, match=r"no channel 'fax' \(valid channels: email, web\)"):
        resolve_channels(["email", "fax"])
    table = ChannelTable.of(["email"])
    assert table.only_cited("email") and not table.only_cited("web") and not table.only_cited("telegram")


def test_email_renders_buttons_as_replies_and_links_spelled_out() -> None:
    message = outbound_of("bot", "Standard shipping costs $4.95.", {
        "buttons": [{"title": "Yes", "payload": "/affirm"}, {"payload": "/deny"}],
        "custom": {"citation": {"article_id": "shipping-costs", "title": "Shipping costs"}}},
        article_url="https://help.test/a/{article_id}")
    text = EmailChannel().render(message).text
    assert text.startswith("Standard shipping costs $4.95.\n\nYou can answer this e-mail with one of:\n  - Yes\n"
                           "  - /deny\n\nShipping costs: https://help.test/a/shipping-costs\n\n-- \n")


def test_email_cuts_what_is_too_long_and_says_so() -> None:
    rendered = EmailChannel().render(Outbound("agent", "x" * 30_000, agent_name="Ada"))
    assert rendered.cut and len(rendered.text) == EmailChannel.max_chars and "shortened" in rendered.text


def test_reply_threading_headers() -> None:
    assert reply_thread([], None).in_reply_to is None
    thread = reply_thread(["<a@x>", "<b@y>", "<c@x>", "<b@y>"], "<b@y>")
    assert (thread.in_reply_to, thread.references) == ("<b@y>", ("<a@x>", "<c@x>", "<b@y>"))
    long = reply_thread([f"<{i}@x>" for i in range(30)], "<29@x>")
    assert len(long.references) == 20 and long.references[0] == "<0@x>" and long.references[-1] == "<29@x>"
