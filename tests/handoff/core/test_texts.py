"""The service's notices in the conversation's language (handoff/core/texts.py): every catalog has the English keys
with their placeholders, a language without a catalog (or a key its catalog lacks) is said in English, and the
notices come out in Chinese for a Chinese conversation."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.core import texts, transitions
from handoff.core.conversation import Cause, State
from handoff.core.model import AgentId, ConversationId, ConversationRecord, CustomerId

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize("language", sorted(texts.CATALOGS))
def test_every_catalog_has_the_english_keys_and_placeholders(language: str) -> None:
    english, other = texts.CATALOGS["en"], texts.CATALOGS[language]
    assert set(other) == set(english)
    for key, text in other.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key


@pytest.mark.parametrize(("tag", "language"), [("zh", "zh"), ("zh-CN", "zh"), ("ZH_hans", "zh"), ("en-GB", "en"),
                                               ("de", "en"), ("", "en"), (None, "en")])
def test_a_tag_says_its_base_language_or_english(tag: str | None, language: str) -> None:
    assert texts.language(tag) == language


def test_notices_in_chinese_and_english() -> None:
    assert texts.queued(3, 240, "zh-CN") == "正在为您转接人工客服。您目前排在第 3 位，预计等待约 4 分钟。"
    assert texts.queued(3, 240, "de") == (
        "I'm passing you to one of our team. You are number 3 in line; it should take about 4 minutes.")
    assert texts.queued(1, None, "zh").startswith("正在为您转接人工客服。您目前排在第 1 位；")
    assert texts.wait_phrase(30, "zh") == "不到 1 分钟" and texts.wait_phrase(7200, "en") == "about 2 hours"
    assert texts.say("zh", "feedback_ask").startswith("您对本次服务满意吗？")
    assert texts.say("fr", "assigned", agent="Ada") == "Ada has joined the conversation."


def test_the_out_of_hours_promise_names_the_weekday_in_the_language() -> None:
    opening = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday
    assert texts.offline(12, "jo@example.com", opening, "zh") == (
        "我们的客服团队目前不在线。您的请求已登记为工单 #12，我们会在上班后（周一 09:00 CET）通过电子邮件（jo@example.com）回复您。")
    assert texts.offline(12, None, opening) == ("Our team is offline right now. We have logged your request as "
                                                "ticket #12 and will get back to you here when we open (Monday 09:00 CET).")


def test_the_queue_notice_is_known_in_every_language() -> None:
    assert texts.is_queued_notice(texts.queued(2, 90, "zh")) and texts.is_queued_notice(texts.queued(2, None, "en"))
    assert not texts.is_queued_notice(texts.say("zh", "assigned", agent="Ada"))


@pytest.mark.parametrize(("text", "language"), [("我的包裹还没到，订单号 12345", "zh"), ("Where is my parcel?", "en"),
                                                ("Re: 订单 12345 退货", "zh"), ("", "en")])
def test_an_email_language_is_guessed_from_its_characters(text: str, language: str) -> None:
    assert texts.language_of_text(text) == language


def test_a_transition_says_its_notice_in_the_conversation_language() -> None:
    record = ConversationRecord(ConversationId("c_1"), CustomerId("cu_1"), state=State.QUEUED, language="zh-CN")
    change = transitions.assign(record, AgentId("ag_1"), "Ada", Cause.ASSIGNED)
    assert change.notice == "Ada 已加入会话，将为您服务。"
