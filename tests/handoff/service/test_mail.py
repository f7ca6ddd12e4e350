"""The e-mail channel: mail in becomes a conversation (threaded, stored once), the bot answers only with a cited
article, otherwise a person does; replies go out through a real SMTP relay (aiosmtpd) threaded under the
customer's mail, and a relay outage is retried until the mail is out. Real client samples: tests/handoff/data/mail/.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest

from handoff.adapters.mail.listener import MailListener
from handoff.core.errors import Conflict
from handoff.core.model import State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.service.mail_relay import CatchingRelay
from tests.handoff.world import SUPERVISOR, Agent, FakeClock, FakeRasa

MAIL = Path(__file__).parents[1] / "data" / "mail"
QUESTION_ID = "<CAH7b3q+Yx0d2hV1=kq8Zr5wJm9XyTn0mWc@mail.gmail.com>"


def sample(name: str, **replace: str) -> bytes:
    raw = (MAIL / name).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


@pytest.fixture
async def mail_service(open_service: OpenService, relay: CatchingRelay, tmp_path: Path) -> HandoffService:
    return await open_service(**mail_settings(relay, tmp_path))


def mail_settings(relay: CatchingRelay, tmp_path: Path) -> dict[str, Any]:
    return {"channels": ("web", "email"), "smtp_host": "127.0.0.1", "smtp_port": relay.port,
            "mail_address": "support@shop.test", "mail_attachments": tmp_path / "mail"}


async def texts_of(service: HandoffService, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.sender, m.text) for m in await service.customers.history(conversation_id)]


async def test_a_new_mail_is_a_conversation_the_bot_answers_with_its_cited_article(
        mail_service: HandoffService, relay: CatchingRelay, rasa: FakeRasa, clock: FakeClock) -> None:
    assert mail_service.mail is not None
    conversation_id = await mail_service.mail.receive(sample("gmail_new_question.eml"))
    assert conversation_id is not None
    record = await mail_service.customers.get(conversation_id)
    assert (record.channel, record.customer_email, record.customer_name) == ("email", "jane.doe@gmail.com",
                                                                             "Jane Doe")
    assert rasa.heard[-1][2] == {"channel": "email"}
    said = await texts_of(mail_service, conversation_id)
    assert said[0] == ("customer", "Question about shipping costs\n\nHello,\n\nhow much is shipping to Germany for "
                                   "a small order?\n\nThanks,\nJane")
    assert said[1] == ("bot", "Standard shipping costs $4.95.")
    [answer] = await relay.wait_for(1)
    assert relay.recipients == [["jane.doe@gmail.com"]]
    assert answer["Subject"] == "Re: Question about shipping costs"
    assert answer["In-Reply-To"] == QUESTION_ID and answer["References"] == QUESTION_ID
    assert answer["Message-ID"].endswith("@shop.test>") and answer["Auto-Submitted"] == "auto-replied"
    body = answer.get_content()
    assert "Standard shipping costs $4.95." in body
    assert "Shipping costs: https://help.example.com/articles/shipping-costs" in body
    assert record.state is State.BOT
    clock.advance(mail_service.settings.feedback_quiet + 1)
    await mail_service.sweep()  # the rating is asked (kept in the conversation), not mailed: only a resolve's is
    assert (await texts_of(mail_service, conversation_id))[-1][0] == "system"
    await asyncio.sleep(0.2)
    assert len(relay.messages) == 1


async def test_a_reply_threads_into_its_conversation_and_a_person_answers_it_by_mail(
        mail_service: HandoffService, relay: CatchingRelay) -> None:
    assert mail_service.mail is not None
    agent = await Agent.sign_in(mail_service, "ada")
    conversation_id = await mail_service.mail.receive(sample("gmail_new_question.eml"))
    [bot_answer] = await relay.wait_for(1)
    reply = sample("gmail_reply.eml", **{"<m7.c_placeholder@shop.test>": bot_answer["Message-ID"]})
    assert await mail_service.mail.receive(reply) == conversation_id  # the same conversation
    record = await mail_service.customers.get(conversation_id or "")
    assert (record.state, record.agent_id, record.reasons) == (State.ASSIGNED, agent.id, ("explicit_request",))
    said = await texts_of(mail_service, conversation_id or "")
    assert said[2] == ("customer", "And is it free above some amount? I would like a person to tell me.")
    await agent.inbox.next(of_type("assigned"))
    await agent.say(record.conversation_id, "Yes: shipping is free above $50.")
    _, answer = await relay.wait_for(2)  # "I'm passing you", "Ada joined" are not mailed
    assert answer["From"].addresses[0].display_name == "Ada Lovelace"
    assert answer["In-Reply-To"] == "<CAH7b3q-Pq2rS1t=UvW3xYz8aBcDeFgHiJ0k@mail.gmail.com>"
    assert answer["References"].split() == [QUESTION_ID, bot_answer["Message-ID"],
                                            "<CAH7b3q-Pq2rS1t=UvW3xYz8aBcDeFgHiJ0k@mail.gmail.com>"]
    assert "Auto-Submitted" not in answer
    assert answer.get_content().startswith("Yes: shipping is free above $50.")
    await agent.inbox.next(of_type("delivery", status="sent", conversation_id=record.conversation_id))


async def test_an_answer_the_bot_cannot_cite_goes_to_the_queue_with_its_reason(
        mail_service: HandoffService, relay: CatchingRelay) -> None:
    assert mail_service.mail is not None
    conversation_id = await mail_service.mail.receive(sample("latin1_new.eml"))
    record = await mail_service.customers.get(conversation_id or "")
    assert (record.state, record.reasons) == (State.QUEUED, ("bot_uncited",))
    said = await texts_of(mail_service, conversation_id or "")
    assert said[0][1] == "Wie lange dauert eine Rücksendung? Ich möchte die Jacke zurückgeben."
    assert ("bot", "I can help with orders, shipping and returns.") in said  # the draft, kept for the agent
    [acknowledged] = await relay.wait_for(1)  # the draft is not mailed; the ticket logged is
    assert acknowledged.get_content().startswith(f"Thank you for your e-mail. We have logged it as ticket "
                                                 f"#{record.ticket_id}")
    ticket = await mail_service.helpdesk.ticket(SUPERVISOR, record.ticket_id or 0)
    assert ticket["channel"] == "email" and ticket["reasons"][0]["code"] == "bot_uncited"
    metrics = (await mail_service.metrics({})).decode()
    assert 'handoff_handoffs_total{outcome="queued",reason="bot_uncited"} 1.0' in metrics


async def test_a_redelivered_mail_is_stored_once_and_an_auto_reply_never_answered(
        mail_service: HandoffService, relay: CatchingRelay, rasa: FakeRasa) -> None:
    assert mail_service.mail is not None
    raw = sample("gmail_new_question.eml")
    conversation_id = await mail_service.mail.receive(raw)
    assert await mail_service.mail.receive(raw) is None
    await relay.wait_for(1)
    heard = len(rasa.heard)
    assert await mail_service.mail.receive(sample("out_of_office.eml")) == conversation_id  # threaded, kept
    assert len(rasa.heard) == heard  # the bot never saw it
    said = await texts_of(mail_service, conversation_id or "")
    assert [s for s, _ in said] == ["customer", "bot", "customer"]
    await asyncio.sleep(0.2)
    assert len(relay.messages) == 1


async def test_a_relay_outage_is_retried_with_back_off_and_shown_to_the_agent(
        mail_service: HandoffService, relay: CatchingRelay, clock: FakeClock) -> None:
    assert mail_service.mail is not None
    agent = await Agent.sign_in(mail_service, "ada")
    conversation_id = await mail_service.mail.receive(sample("thunderbird_attachments.eml"))  # uncited: to ada
    await agent.inbox.next(of_type("assigned"))
    relay.refuse = True
    await agent.say(conversation_id or "", "Sorry about the vase: a new one is on its way.")
    told = await agent.inbox.next(of_type("delivery", status="retrying"))
    assert "451" in told["error"] and told["next_try"] == clock() + 30
    clock.advance(10)
    await mail_service.sweep()  # not due yet: no try
    clock.advance(25)
    await mail_service.sweep()
    again = await agent.inbox.next(of_type("delivery", status="retrying", next_try=clock() + 60))
    assert again["message_id"] == told["message_id"]
    relay.refuse = False
    clock.advance(61)
    await mail_service.sweep()
    [answer] = await relay.wait_for(1)
    assert answer.get_content().startswith("Sorry about the vase")
    await agent.inbox.next(of_type("delivery", status="sent"))
    clock.advance(3600)
    await mail_service.sweep()
    await asyncio.sleep(0.2)
    assert len(relay.messages) == 1  # sent once


async def test_attachments_are_kept_as_files_and_linked(mail_service: HandoffService, tmp_path: Path) -> None:
    assert mail_service.mail is not None
    conversation_id = await mail_service.mail.receive(sample("thunderbird_attachments.eml"))
    [message] = [m for m in await mail_service.customers.history(conversation_id or "") if m.sender == "customer"]
    links = (message.payload or {})["links"]
    assert [link["title"] for link in links] == ["broken vase.png (70 bytes)", "invoice-20417.pdf (3069 bytes)"]
    prefix = f"/api/agent/conversations/{conversation_id}/attachments/"
    folder, name = links[1]["url"].removeprefix(prefix).split("/")
    path = await mail_service.mail.attachment(conversation_id or "", folder, name)
    assert path is not None and path.read_bytes().startswith(b"%PDF") and path.is_relative_to(tmp_path / "mail")
    assert await mail_service.mail.attachment(conversation_id or "", folder, "../../etc/passwd") is None
    other = await mail_service.mail.receive(sample("gmail_new_question.eml"))
    assert await mail_service.mail.attachment(other or "", folder, name) is None  # not that conversation's
    # the customer's data deleted: the files their e-mails carried go with the conversation
    await mail_service.data.delete(conversation_id=conversation_id)
    assert not path.exists() and not path.parent.parent.exists()
    assert (tmp_path / "mail").exists()  # other conversations' files stay


async def test_an_attachment_over_the_limit_is_named_not_kept(open_service: OpenService, relay: CatchingRelay,
                                                              tmp_path: Path) -> None:
    service = await open_service(**mail_settings(relay, tmp_path), mail_attachment_bytes=1000)
    assert service.mail is not None
    conversation_id = await service.mail.receive(sample("thunderbird_attachments.eml"))
    [message] = [m for m in await service.customers.history(conversation_id or "") if m.sender == "customer"]
    links = (message.payload or {})["links"]
    assert links[1] == {"title": "invoice-20417.pdf (3069 bytes: over the limit, not kept)", "url": ""}
    assert len(list((tmp_path / "mail").rglob("*.pdf"))) == 0


async def test_the_same_address_is_the_same_customer_and_a_new_thread_a_new_conversation(
        mail_service: HandoffService) -> None:
    assert mail_service.mail is not None
    first = await mail_service.mail.receive(sample("gmail_new_question.eml"))
    second = await mail_service.mail.receive(sample("gmail_new_question.eml", **{"CAH7b3q+": "another-"}))
    assert first != second
    one, two = [await mail_service.customers.get(c or "") for c in (first, second)]
    assert one.customer_id == two.customer_id


async def test_out_of_hours_the_promise_goes_by_mail(open_service: OpenService, relay: CatchingRelay,
                                                     tmp_path: Path) -> None:
    closed = {"strategies": [{"name": "workload"}],
              "business_hours": {"timezone": "UTC", "hours": {"wed": "08:00-09:00"}}}  # it is Wednesday 14:00
    service = await open_service(routing=closed, **mail_settings(relay, tmp_path))
    assert service.mail is not None
    reply = sample("gmail_new_question.eml", **{"Question about shipping costs": "I need a person"})
    conversation_id = await service.mail.receive(reply)
    record = await service.customers.get(conversation_id or "")
    assert record.state is State.OFFLINE
    [promise] = await relay.wait_for(1)
    body = promise.get_content()
    assert f"ticket #{record.ticket_id}" in body and "by e-mail at jane.doe@gmail.com" in body
    assert promise["In-Reply-To"] == QUESTION_ID
    # a widget customer who left an address is sent the same promise by e-mail
    web = await service.customers.open(email="jo@example.com")
    said = await service.customers.says(web.conversation_id, "a person please", "c1")
    await service.customers.bot_turn(said)
    _, confirmation = await relay.wait_for(2)
    assert relay.recipients[1] == ["jo@example.com"]
    assert "by e-mail at jo@example.com" in confirmation.get_content()
    # the desk opens: the callbacks are made by e-mail from the ticket, threaded, each once
    ada = await Agent.sign_in(service, "ada")
    await service.helpdesk.edit_ticket(ada.principal, record.ticket_id or 0,
                                       callback_text="Hello Jane, a colleague will call you today.")
    web_ticket = (await service.customers.get(web.conversation_id)).ticket_id or 0
    ticket = await service.helpdesk.edit_ticket(ada.principal, web_ticket, callback_text="Hello Jo, here we are.")
    assert ticket["callback"]["sent_by"] == ada.id
    *_, to_jane, to_jo = await relay.wait_for(4)
    assert to_jane["In-Reply-To"] == QUESTION_ID and to_jane["To"] == "jane.doe@gmail.com"
    assert to_jane.get_content().startswith("Hello Jane, a colleague will call you today.")
    assert to_jo["In-Reply-To"] == confirmation["Message-ID"] and to_jo["Subject"] == f"Re: {confirmation['Subject']}"
    assert ("agent", "Hello Jo, here we are.") in await texts_of(service, web.conversation_id)
    with pytest.raises(Conflict):
        await service.helpdesk.edit_ticket(ada.principal, web_ticket, callback_text="again")
    await asyncio.sleep(0.2)
    assert len(relay.messages) == 4


async def test_the_listener_takes_mail_over_smtp_for_its_address_only(mail_service: HandoffService,
                                                                      relay: CatchingRelay) -> None:
    assert mail_service.mail is not None
    listener = MailListener(mail_service.mail.receive, host="127.0.0.1", port=0, address="support@shop.test",
                            max_bytes=20_000)
    await listener.start()
    try:
        def send(raw: bytes, to: str) -> dict[str, Any]:
            with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as smtp:
                return dict(smtp.sendmail("jane.doe@gmail.com", [to], raw))
        assert await asyncio.to_thread(send, sample("gmail_new_question.eml"), "support@shop.test") == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await asyncio.to_thread(send, sample("gmail_new_question.eml"), "someone@else.test")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE announced: refused before the data
            await asyncio.to_thread(send, sample("gmail_new_question.eml") + b"x" * 30_000, "support@shop.test")
        assert refused.value.smtp_code == 552
        [answer] = await relay.wait_for(1)
        assert answer["In-Reply-To"] == QUESTION_ID
    finally:
        await listener.close()


async def test_control_characters_are_dropped_and_mail_from_ourselves_never_answered(
        mail_service: HandoffService, relay: CatchingRelay, rasa: FakeRasa) -> None:
    assert mail_service.mail is not None
    raw = (b"From: Odd <odd@example.org>\r\nTo: support@shop.test\r\nSubject: Null\x00ed\r\n"
           b"Message-ID: <odd-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"page one\x0cpage two\x00 shipping?\r\n")
    conversation_id = await mail_service.mail.receive(raw)
    said = await texts_of(mail_service, conversation_id or "")
    assert said[0] == ("customer", "Nulled\n\npage onepage two shipping?")
    heard = len(rasa.heard)
    ours = sample("gmail_new_question.eml", **{"Jane Doe <jane.doe@gmail.com>": "support@shop.test",
                                               "CAH7b3q+": "loop-"})
    assert await mail_service.mail.receive(ours) is None and len(rasa.heard) == heard


async def test_a_reply_after_a_restart_still_finds_its_conversation(open_service: OpenService, relay: CatchingRelay,
                                                                    tmp_path: Path) -> None:
    first = await open_service(**mail_settings(relay, tmp_path))
    assert first.mail is not None
    conversation_id = await first.mail.receive(sample("gmail_new_question.eml"))
    [bot_answer] = await relay.wait_for(1)
    await first.close()
    again = await open_service(forget=True, **mail_settings(relay, tmp_path))  # the live store kept nothing
    assert again.mail is not None
    reply = sample("gmail_reply.eml", **{"<m7.c_placeholder@shop.test>": bot_answer["Message-ID"]})
    assert await again.mail.receive(reply) == conversation_id
    record = await again.customers.get(conversation_id or "")
    assert record.state is State.QUEUED and record.channel == "email"


async def test_a_mail_in_chinese_is_a_chinese_conversation_and_acknowledged_in_chinese(
        mail_service: HandoffService, relay: CatchingRelay) -> None:
    mail = EmailMessage(policy=SMTP)
    mail["From"], mail["To"], mail["Subject"] = "王芳 <wang@example.cn>", "support@shop.test", "退货需要多久？"
    mail["Message-ID"], mail["Date"] = "<zh-1@example.cn>", "Sat, 05 Dec 2026 10:00:00 +0800"
    mail.set_content("我想退掉这件外套，退款需要多长时间？")
    assert mail_service.mail is not None
    conversation_id = await mail_service.mail.receive(mail.as_bytes())
    record = await mail_service.customers.get(conversation_id or "")
    assert (record.language, record.state) == ("zh", State.QUEUED)
    [acknowledged] = await relay.wait_for(1)
    assert acknowledged.get_content().startswith(f"感谢您的来信。我们已将其登记为工单 #{record.ticket_id}")
    assert "客户服务" in str(acknowledged["From"])


def reply_to(answered: EmailMessage, text: str, message_id: str) -> bytes:
    """Jane's reply to one of our mails, quoting it as mail clients do."""
    quoted = "\n".join(f"> {line}" for line in answered.get_content().splitlines())
    return (f"From: Jane Doe <jane.doe@gmail.com>\r\nTo: support@shop.test\r\nSubject: Re: {answered['Subject']}\r\n"
            f"Message-ID: {message_id}\r\nIn-Reply-To: {answered['Message-ID']}\r\n"
            f"References: {answered['References']} {answered['Message-ID']}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{text}\r\n\r\nOn Wed, Jane wrote:\r\n{quoted}\r\n").encode()


async def resolved_by_mail(service: HandoffService, relay: CatchingRelay) -> tuple[str, EmailMessage]:
    """Jane asks by mail for a person, Ada resolves: the rating prompt is mailed in the thread."""
    assert service.mail is not None
    agent = await Agent.sign_in(service, "ada")
    conversation_id = await service.mail.receive(sample("gmail_new_question.eml"))
    [bot_answer] = await relay.wait_for(1)
    await service.mail.receive(sample("gmail_reply.eml", **{"<m7.c_placeholder@shop.test>": bot_answer["Message-ID"]}))
    await agent.inbox.next(of_type("assigned"))
    await service.desk.resolve(agent.principal, str(conversation_id))
    [prompt] = [m for m in await relay.wait_for(3) if "Reply with a number" in m.get_content()]
    return str(conversation_id), prompt


async def test_a_reply_with_a_number_rates_the_conversation(
        mail_service: HandoffService, relay: CatchingRelay) -> None:
    conversation_id, prompt = await resolved_by_mail(mail_service, relay)
    assert prompt.get_content().startswith("Reply with a number from 1 (poor) to 5 (excellent) to rate this "
                                           "conversation.")
    assert prompt["In-Reply-To"] == "<CAH7b3q-Pq2rS1t=UvW3xYz8aBcDeFgHiJ0k@mail.gmail.com>"
    assert mail_service.mail is not None
    said = await texts_of(mail_service, conversation_id)
    assert await mail_service.mail.receive(reply_to(prompt, "5", "<rate-1@mail.gmail.com>")) == conversation_id
    assert await texts_of(mail_service, conversation_id) == said  # no customer message
    assert (await mail_service.customers.get(conversation_id)).state is State.RESOLVED  # not reopened
    ratings = [(f["score"], f["channel"]) for f in await mail_service.feedback.of_conversation(SUPERVISOR,
                                                                                              conversation_id)]
    assert ratings == [(5, "email")]
    assert await mail_service.mail.receive(reply_to(prompt, "5", "<rate-1@mail.gmail.com>")) is None  # again
    summary = await mail_service.reports.summary(SUPERVISOR, since="2026-11-25", until="2026-11-26", by="channel")
    [row] = [r for r in summary["rows"] if r["key"] == "email"]  # what the reports read: docs/metrics.md
    assert row["metrics"]["csat_responses"] == 1 and row["metrics"]["csat_average"] == 5


async def test_a_reply_that_is_not_just_a_number_is_a_message_as_any_other(
        mail_service: HandoffService, relay: CatchingRelay) -> None:
    conversation_id, prompt = await resolved_by_mail(mail_service, relay)
    assert mail_service.mail is not None
    other = await mail_service.mail.receive(reply_to(prompt, "5 stars, but one more question", "<m-1@x>"))
    assert other == conversation_id  # the reply continues the thread as today
    assert await mail_service.feedback.of_conversation(SUPERVISOR, conversation_id) == []
    assert await mail_service.mail.receive(reply_to(prompt, "4", "<m-2@x>")) == other  # too late: answered since
    assert await mail_service.feedback.of_conversation(SUPERVISOR, conversation_id) == []
    customer = [text for sender, text in await texts_of(mail_service, conversation_id) if sender == "customer"]
    assert customer[-2].startswith("5 stars, but one more question") and customer[-1].startswith("4")
