"""Inbound e-mail parsed as mail clients write it (samples in tests/handoff/data/mail/): the new words only, the
thread's ids, the sender, attachments, any charset."""

from __future__ import annotations

from pathlib import Path

from handoff.adapters.mail.parse import html_to_text, parse_mail, strip_quoted

MAIL = Path(__file__).parents[2] / "data" / "mail"


def parsed(name: str):  # type: ignore[no-untyped-def]
    return parse_mail((MAIL / name).read_bytes(), fallback_id="<fallback@test>")


def test_gmail_new_question_takes_the_plain_part() -> None:
    mail = parsed("gmail_new_question.eml")
    assert mail.message_id == "<CAH7b3q+Yx0d2hV1=kq8Zr5wJm9XyTn0mWc@mail.gmail.com>"
    assert (mail.address, mail.name, mail.subject) == ("jane.doe@gmail.com", "Jane Doe", "Question about shipping costs")
    assert mail.text == "Hello,\n\nhow much is shipping to Germany for a small order?\n\nThanks,\nJane"
    assert mail.thread == () and mail.attachments == () and not mail.auto_reply


def test_gmail_reply_loses_the_quoted_answer_and_keeps_the_thread() -> None:
    mail = parsed("gmail_reply.eml")
    assert mail.text == "And is it free above some amount? I would like a person to tell me."
    assert mail.thread == ("<CAH7b3q+Yx0d2hV1=kq8Zr5wJm9XyTn0mWc@mail.gmail.com>", "<m7.c_placeholder@shop.test>")


def test_outlook_reply_in_windows_1252_loses_the_from_block() -> None:
    mail = parsed("outlook_reply_windows1252.eml")
    assert mail.name == "René Müller"
    assert mail.subject == "RE: Bestellung 12345 – falsche Größe"
    assert mail.text == "Die Schuhe sind zu groß – können Sie sie umtauschen?\n\nGrüße\nRené"
    assert mail.thread == ("<earlier-outlook-thread@shop.test>",)


def test_apple_mail_html_only_is_made_safe_text_without_the_quote() -> None:
    mail = parsed("apple_html_only.eml")
    assert mail.text == "Hi,\n\nthe parcel arrived damaged & the lid is broken. Can I get a replacement?\n\nTom"
    assert "<" not in mail.text and "alert" not in mail.text
    assert mail.message_id == "<5A1C9E0B-7D3F-4B6E-9C2A-1F0E8D7C6B5A@icloud.com>"


def test_attachments_are_kept_with_their_names_and_bytes() -> None:
    mail = parsed("thunderbird_attachments.eml")
    assert mail.text.startswith("Hello,\n\nthe vase in my order arrived broken.")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("broken vase.png", "image/png"), ("invoice-20417.pdf", "application/pdf")]
    assert mail.attachments[0].data.startswith(b"\x89PNG") and mail.attachments[1].data.startswith(b"%PDF")


def test_latin1_body_and_encoded_headers_and_german_quote_header() -> None:
    mail = parsed("latin1_new.eml")
    assert (mail.name, mail.subject) == ("Jürgen Köhler", "Rücksendung")
    assert mail.text == "Wie lange dauert eine Rücksendung? Ich möchte die Jacke zurückgeben."


def test_auto_replies_are_recognised() -> None:
    assert parsed("out_of_office.eml").auto_reply


def test_a_mail_without_message_id_gets_the_fallback() -> None:
    mail = parse_mail(b"From: a@b.c\r\nSubject: hi\r\n\r\nhello\r\n", fallback_id="<x@y>")
    assert (mail.message_id, mail.text) == ("<x@y>", "hello")


def test_quote_separators() -> None:
    assert strip_quoted("Yes please.\n\nOn Thu, Dec 3, 2026 at 6:02 PM Shop\n<s@shop.test> wrote:\n> old") == "Yes please."
    assert strip_quoted("Fine.\n-----Original Message-----\nFrom: x") == "Fine."
    assert strip_quoted("Top\n> quoted\nbottom") == "Top\nbottom"
    assert strip_quoted("Thanks\n-- \nJane, Sent from my phone") == "Thanks"
    assert html_to_text("<p>a&nbsp;b</p><style>p{}</style><p>c</p>") == "a b\n\nc"
