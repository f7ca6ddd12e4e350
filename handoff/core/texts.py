"""What the service itself says to customers, in one place and in each language it speaks (the bot's words live
in its domain).

A notice is said in the conversation's language (``ConversationRecord.language``: what the widget sent when it
opened the conversation, ``data-lang`` or the browser's, or the language of a customer's first e-mail), through
:func:`say`. A language is the base of a BCP 47 tag (``zh-CN`` -> ``zh``); one without a catalog here, or a key
its catalog lacks, is said in English. How to add a language: docs/translations.md.

What only agents read (the reason details of a hand-off) stays in English: :data:`NO_REASON`, :data:`UNCITED`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

DEFAULT = "en"

_EN: Mapping[str, str] = {
    "queued": "I'm passing you to one of our team. You are number {position} in line; it should take {wait}.",
    "queued_unknown_wait": ("I'm passing you to one of our team. You are number {position} in line; nobody is free "
                            "right now, so please stay here and we will answer as soon as someone is."),
    "assigned": "{agent} has joined the conversation.",
    "transferred": "I'm passing you to another colleague who can help better; please stay here.",
    "requeued": "Sorry for the wait: I'm finding another colleague for you.",
    "agent_gone": "{agent} lost their connection. I'm finding another colleague for you; please stay here.",
    "handed_back": "You're chatting with the assistant again. {agent} left the conversation.",
    "resolved": "{agent} marked this conversation as resolved. If you need anything else, just write here.",
    "offline": ("Our team is offline right now. We have logged your request as ticket #{ticket} and will get back "
                "to you {contact} when we open ({opening})."),
    "offline_contact_email": "by e-mail at {email}",
    "offline_contact_here": "here",
    "bot_down": "Our assistant is not answering right now, so I'm passing you to a person. Your message is saved.",
    "email_queued": ("Thank you for your e-mail. We have logged it as ticket #{ticket}; one of our team will answer "
                     "you by e-mail. Reply to this message to add anything."),
    "feedback_ask": "How did we do? Please rate this conversation from 1 (very poor) to 5 (excellent).",
    "feedback_ask_mail": "Reply with a number from 1 (poor) to 5 (excellent) to rate this conversation.",
    "feedback_options": "1 (very poor)|2 (poor)|3 (okay)|4 (good)|5 (excellent)",
    "feedback_thanks": "Thank you for your rating ({score} of 5).",
    "wait_under_a_minute": "under a minute",
    "wait_minute": "about {n} minute",
    "wait_minutes": "about {n} minutes",
    "wait_hour": "about {n} hour",
    "wait_hours": "about {n} hours",
    "mail_sender": "Customer service",
    "mail_subject": "Your message",
    "mail_request_subject": "Your request: ticket #{ticket}",
    "mail_signature": "Brightwood customer service",
}

_ZH: Mapping[str, str] = {
    "queued": "正在为您转接人工客服。您目前排在第 {position} 位，预计等待{wait}。",
    "queued_unknown_wait": ("正在为您转接人工客服。您目前排在第 {position} 位；暂时没有空闲的客服，"
                            "请不要离开，客服有空后会第一时间回复您。"),
    "assigned": "{agent} 已加入会话，将为您服务。",
    "transferred": "正在为您转接一位更合适的同事，请稍候。",
    "requeued": "抱歉让您久等了，正在为您安排其他同事。",
    "agent_gone": "{agent} 的连接已断开，正在为您安排其他同事，请稍候。",
    "handed_back": "{agent} 已离开会话，现在由智能助手继续为您服务。",
    "resolved": "{agent} 已将本次会话标记为已解决。如还有其他问题，直接在这里留言即可。",
    "offline": "我们的客服团队目前不在线。您的请求已登记为工单 #{ticket}，我们会在上班后（{opening}）{contact}回复您。",
    "offline_contact_email": "通过电子邮件（{email}）",
    "offline_contact_here": "在这里",
    "bot_down": "智能助手暂时无法回复，正在为您转接人工客服。您的消息已保存。",
    "email_queued": ("感谢您的来信。我们已将其登记为工单 #{ticket}，客服人员会通过电子邮件回复您。"
                     "如需补充信息，直接回复本邮件即可。"),
    "feedback_ask": "您对本次服务满意吗？请为本次会话打分：1 分（非常不满意）到 5 分（非常满意）。",
    "feedback_ask_mail": "请直接回复一个 1（不满意）到 5（非常满意）的数字，为本次会话打分。",
    "feedback_options": "1（非常不满意）|2（不满意）|3（一般）|4（满意）|5（非常满意）",
    "feedback_thanks": "感谢您的评分（{score} 分，满分 5 分）。",
    "wait_under_a_minute": "不到 1 分钟",
    "wait_minute": "约 {n} 分钟",
    "wait_minutes": "约 {n} 分钟",
    "wait_hour": "约 {n} 小时",
    "wait_hours": "约 {n} 小时",
    "mail_sender": "客户服务",
    "mail_subject": "您的来信",
    "mail_request_subject": "您的请求：工单 #{ticket}",
    "mail_signature": "Brightwood 客户服务",
}

CATALOGS: Mapping[str, Mapping[str, str]] = MappingProxyType({"en": _EN, "zh": _ZH})
"""Language -> key -> text with ``{placeholders}``. A new language adds its catalog here (docs/translations.md)."""

WEEKDAYS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
})
"""Weekday names of languages whose own are not strftime's (which speaks the process's locale, English)."""

NO_REASON = "The assistant handed the conversation over without saying why."
UNCITED = ("The customer wrote by e-mail, where the assistant answers only from a knowledge article, and it had "
           "none: its draft (not sent) is in the conversation.")
BOT_DOWN = _EN["bot_down"]
"""The hand-off reason's detail agents read when the bot did not answer (customers hear ``say(.., "bot_down")``)."""

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language(tag: str | None) -> str:
    """The catalog for a BCP 47 tag: its base language (``zh-CN`` -> ``zh``) if there is one, else English."""
    base = re.split(r"[-_]", (tag or "").strip().lower(), maxsplit=1)[0]
    return base if base in CATALOGS else DEFAULT


def say(tag: str | None, key: str, **params: object) -> str:
    """The text ``key`` in the language ``tag`` (English when it has none), its placeholders filled."""
    text = CATALOGS[language(tag)].get(key) or _EN[key]
    return text.format(**params)


def language_of_text(text: str) -> str:
    """A guess at a message's language for a conversation that did not say it (an e-mail): ``zh`` when at least
    a fifth of its letters are Chinese characters, else ``en``."""
    letters = [c for c in text if c.isalpha()]
    han = sum(1 for c in letters if _HAN.match(c))
    return "zh" if letters and han * 5 >= len(letters) else DEFAULT


def offline(ticket: int, email: str | None, opening: datetime, tag: str | None = DEFAULT) -> str:
    """The promise made out of hours: the ticket, how we will answer, and when."""
    contact = say(tag, "offline_contact_email", email=email) if email else say(tag, "offline_contact_here")
    days = WEEKDAYS.get(language(tag))
    when = (f"{days[opening.weekday()]} {opening.strftime('%H:%M %Z')}".strip() if days
            else opening.strftime("%A %H:%M %Z"))
    return say(tag, "offline", ticket=ticket, contact=contact, opening=when)


def wait_phrase(seconds: float, tag: str | None = DEFAULT) -> str:
    """'under a minute', 'about 4 minutes', 'about 1 hour' (in the language ``tag``)."""
    if seconds < 60:
        return say(tag, "wait_under_a_minute")
    minutes = round(seconds / 60)
    if minutes < 90:
        return say(tag, "wait_minute" if minutes == 1 else "wait_minutes", n=minutes)
    hours = round(minutes / 60)
    return say(tag, "wait_hour" if hours == 1 else "wait_hours", n=hours)


def queued(position: int, wait_seconds: float | None, tag: str | None = DEFAULT) -> str:
    if wait_seconds is None:
        return say(tag, "queued_unknown_wait", position=position)
    return say(tag, "queued", position=position, wait=wait_phrase(wait_seconds, tag))


def is_queued_notice(text: str) -> bool:
    """Whether a system message is the queue notice, in any language (its words before the position)."""
    return any(text.startswith(catalog[key].split("{", 1)[0])
               for catalog in CATALOGS.values() for key in ("queued", "queued_unknown_wait"))
