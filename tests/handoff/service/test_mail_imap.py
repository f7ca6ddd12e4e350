"""The e-mail channel's IMAP poller against a real Dovecot: unseen mail of an existing mailbox becomes
conversations (threaded and stored once, as by SMTP), each message flagged seen only once it is stored."""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.adapters.mail.imap import ImapMailbox, ImapPoller
from tests.handoff.conftest import OpenService
from tests.handoff.service.dovecot import Dovecot, running_dovecot
from tests.handoff.service.mail_relay import CatchingRelay
from tests.handoff.service.test_mail import QUESTION_ID, mail_settings, sample


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def deliver(server: Dovecot, *raws: bytes) -> None:
    """Put messages into the mailbox as the mail server does (IMAP APPEND, unseen)."""
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(server.user, server.password)
    for raw in raws:
        client.append("INBOX", None, None, raw)
    client.logout()


def unseen(server: Dovecot) -> int:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(server.user, server.password)
    client.select("INBOX")
    _, data = client.search(None, "UNSEEN")
    client.logout()
    return len(data[0].split())


async def test_the_poller_takes_unseen_mail_once_and_marks_it_seen(open_service: OpenService, relay: CatchingRelay,
                                                                  dovecot: Dovecot, tmp_path: Path) -> None:
    service = await open_service(**mail_settings(relay, tmp_path))
    assert service.mail is not None
    poller = ImapPoller(service.mail.receive, ImapMailbox("127.0.0.1", dovecot.port, dovecot.user, dovecot.password,
                                                          security="none"), interval=60)
    await asyncio.to_thread(deliver, dovecot, sample("gmail_new_question.eml"), sample("latin1_new.eml"))
    assert await poller.poll() == 2
    assert await asyncio.to_thread(unseen, dovecot) == 0
    assert await poller.poll() == 0
    answers = await relay.wait_for(2)  # the bot's cited answer; the other's "ticket logged"
    assert {a["In-Reply-To"] for a in answers} == {QUESTION_ID, "<latin1-0001@example.de>"}
    await asyncio.to_thread(deliver, dovecot, sample("gmail_new_question.eml"))  # delivered again: stored once
    assert await poller.poll() == 1
    conversations = {m["In-Reply-To"] for m in relay.messages}
    assert len(conversations) == 2
    await asyncio.sleep(0.2)
    assert len(relay.messages) == 2


async def test_a_wrong_password_is_an_error_the_loop_survives(open_service: OpenService, relay: CatchingRelay,
                                                              dovecot: Dovecot, tmp_path: Path) -> None:
    service = await open_service(**mail_settings(relay, tmp_path))
    assert service.mail is not None
    poller = ImapPoller(service.mail.receive, ImapMailbox("127.0.0.1", dovecot.port, dovecot.user, "wrong",
                                                          security="none"), interval=0.05)
    with pytest.raises(imaplib.IMAP4.error):
        await poller.poll()
    await poller.start()
    await asyncio.sleep(0.2)  # it keeps trying, logging a warning each time
    await poller.close()
