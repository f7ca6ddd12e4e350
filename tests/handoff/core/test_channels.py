"""Channels: one interface, a table of names, one resolver; e-mail renders within its limits."""

from __future__ import annotations

import pytest

from handoff.core.channels import (
    CHANNELS,
    ChannelTable,
    EmailChannel,
    Outbound,
    TelegramChannel,
    XmppChannel,
    backoff,
    callback_data,
    chosen_button,
    inline_keyboard,
    outbound_of,
    rating_buttons,
    rating_of_reply,
    reply_thread,
    resolve_channels,
)
from handoff.core.errors import SettingsError


def test_the_table_names_every_channel_and_web_is_always_run() -> None:
    assert sorted(CHANNELS) == ["email", "telegram", "web", "xmpp"]
    assert sorted(resolve_channels([])) == ["web"]
    assert sorted(resolve_channels(["email"])) == ["email", "web"]
    with pytest.raises(SettingsError, match=r"no channel 'fax' \(valid channels: email, telegram, web, xmpp\)"):
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


def test_xmpp_renders_plain_text_buttons_numbered_links_spelled_out() -> None:
    message = outbound_of("bot", "Is this about order 1042?", {
        "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        "custom": {"citation": {"article_id": "returns", "title": "Returns"}}},
        article_url="https://help.example.com/{article_id}")
    rendered = XmppChannel().render(message)
    assert rendered.text == ("Is this about order 1042?\n\n1. Yes\n2. No\n(Answer with a number or the words.)\n\n"
                             "Returns: https://help.example.com/returns")
    assert rendered.buttons == () and not rendered.cut
    agent = XmppChannel().render(Outbound("agent", "  Shipping is free above $50. ", agent_name="Ada"))
    assert agent.text == "Ada: Shipping is free above $50."
    long = XmppChannel().render(Outbound("bot", "x" * 5000))
    assert long.cut and len(long.text) == XmppChannel.max_chars and "shortened" in long.text


def test_a_buttons_number_or_title_or_payload_chooses_it() -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No, thanks", "payload": "/deny"}]
    assert chosen_button(buttons, "1") == buttons[0]
    assert chosen_button(buttons, " 2. ") == buttons[1]
    assert chosen_button(buttons, "no, THANKS") == buttons[1]
    assert chosen_button(buttons, "anything", payload="/affirm") == buttons[0]
    assert chosen_button(buttons, "3") is None and chosen_button(buttons, "0") is None
    assert chosen_button(buttons, "yes please") is None and chosen_button([], "1") is None


def test_backoff_doubles_from_the_first_wait_up_to_the_most() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0] and backoff(20) == 3600.0
    assert [backoff(n, 5.0, 300.0) for n in (0, 1, 2, 7, 8)] == [5.0, 5.0, 10.0, 300.0, 300.0]


def test_telegram_renders_plain_text_with_buttons_for_the_keyboard_and_links_spelled_out() -> None:
    message = outbound_of("bot", "Shall I cancel <b>order</b> 23456 & refund?", {
        "buttons": [{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
        "custom": {"citation": {"article_id": "cancel", "title": "Cancelling"}}},
        article_url="https://help.test/a/{article_id}")
    rendered = TelegramChannel().render(message)
    assert TelegramChannel.native_buttons and TelegramChannel.max_chars == 4096
    assert rendered.text == "Shall I cancel <b>order</b> 23456 & refund?\n\nCancelling: https://help.test/a/cancel"
    assert rendered.buttons == ("Yes, cancel it", "No, keep it")  # for the inline keyboard, not in the text
    agent = TelegramChannel().render(Outbound("agent", " It ships tomorrow. ", agent_name="Ada Lovelace"))
    assert agent.text == "Ada Lovelace: It ships tomorrow." and not agent.buttons


def test_telegram_cuts_at_4096_utf16_code_units_and_says_so() -> None:
    emoji = "\N{PACKAGE}" * 3000  # two UTF-16 code units each: 6000 as Telegram counts
    rendered = TelegramChannel().render(Outbound("bot", emoji))
    assert rendered.cut and rendered.text.endswith("[The message was shortened; the full text is kept in your "
                                                   "conversation.]")
    assert len(rendered.text.encode("utf-16-le")) // 2 <= 4096
    exactly = "x" * 4096
    assert TelegramChannel().render(Outbound("bot", exactly)) == TelegramChannel().render(Outbound("bot", exactly))
    assert not TelegramChannel().render(Outbound("bot", exactly)).cut


def test_inline_buttons_carry_their_title_or_else_their_number() -> None:
    assert callback_data(1, "Yes, cancel it") == "Yes, cancel it"
    assert callback_data(2, "é" * 33) == "2"  # 66 bytes: over Telegram's 64
    assert callback_data(3, "42") == "3" and callback_data(4, "Done.") == "4"  # read back as something else
    keyboard = inline_keyboard(["Yes", "ü" * 100])
    assert keyboard == {"inline_keyboard": [[{"text": "Yes", "callback_data": "Yes"}],
                                            [{"text": "ü" * 63 + "…", "callback_data": "2"}]]}
    assert inline_keyboard([]) is None
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "é" * 33, "payload": "/other"}]
    for row, button in zip(keyboard["inline_keyboard"], buttons, strict=True):  # pressed: the button it was
        assert chosen_button(buttons, "", row[0]["callback_data"]) == button


def test_a_reply_rates_when_its_first_unquoted_line_is_just_a_number_from_1_to_5() -> None:
    assert rating_of_reply("4") == 4
    assert rating_of_reply("\n  5.\n\nOn Wed, support wrote:\n> Reply with a number") == 5
    assert rating_of_reply("> 3\n2") == 2  # a quoted line is skipped
    for text in ("", "6", "0", "10", "4 stars", "Four", "> 4", "thanks\n4"):
        assert rating_of_reply(text) is None, text


def test_the_rating_options_carry_the_score_and_are_titled_in_the_conversations_language() -> None:
    assert [b["payload"] for b in rating_buttons("en")] == ["1", "2", "3", "4", "5"]
    assert rating_buttons("en")[0]["title"] == "1 (very poor)" and rating_buttons("zh-CN")[4]["title"].startswith("5")
    assert chosen_button(rating_buttons("en"), "5 (EXCELLENT)") == rating_buttons("en")[4]
    assert [b["callback_data"] for [b] in (inline_keyboard([b["title"] for b in rating_buttons("zh")]) or {})[
        "inline_keyboard"]] == [b["title"] for b in rating_buttons("zh")]  # each fits Telegram's 64 bytes
