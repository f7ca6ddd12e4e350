"""The identity rules: canonical addresses, the shop's claims, link codes and the ``link CODE`` command, and which
Authentication-Results vouch for a mail's From domain."""

from __future__ import annotations

import pytest

from handoff.core.errors import BadRequest
from handoff.core.identity import (
    MAX_CLAIMS,
    canonical,
    link_command,
    mail_authenticated,
    normalize_code,
    parse_claims,
    signed_text,
)


def test_canonical_addresses_are_one_form_per_channel() -> None:
    assert canonical("Email", " Jo.Doe@Example.ORG ") == ("email", "jo.doe@example.org")
    assert canonical("xmpp", "Jo@IM.example/Phone") == ("xmpp", "jo@im.example")
    assert canonical("telegram", " 123456789 ") == ("telegram", "123456789")


@pytest.mark.parametrize(("channel", "address"), [("email", "not-an-address"), ("email", "a@b"), ("email", "a b@c.de"),
                                                  ("xmpp", ""), ("telegram", "x" * 321), ("tele gram", "1"),
                                                  ("telegram", "12\x0034")])
def test_canonical_refuses_what_no_channel_address_is(channel: str, address: str) -> None:
    with pytest.raises(BadRequest):
        canonical(channel, address)


def test_the_shops_claims_are_channel_address_pairs_signed_after_the_id() -> None:
    assert parse_claims("email:Jo@Example.org  xmpp:jo@im.example/x email:jo@example.org") == (
        ("email", "jo@example.org"), ("xmpp", "jo@im.example"))
    assert parse_claims(None) == () and parse_claims("") == ()
    assert signed_text("shop-1", 99) == "shop-1.99"  # the earlier form, unchanged
    assert signed_text("shop-1", 99, "email:jo@example.org") == "shop-1.99.email:jo@example.org"
    for bad in ("jo@example.org", "email:nope", " ".join(f"telegram:{n}" for n in range(MAX_CLAIMS + 1))):
        with pytest.raises(BadRequest):
            parse_claims(bad)


def test_the_link_command_carries_a_code_of_the_alphabet() -> None:
    assert link_command("link ABCD2345") == "ABCD2345"
    assert link_command("  /LINK abcd-2345 ") == "ABCD2345"
    assert normalize_code("abcd 2345") == "ABCD2345"
    for text in ("link ABCD1234", "link ABC", "please link ABCD2345", "ABCD2345", "link ABCD23456"):
        assert link_command(text) is None, text


MTA = "mx.shop.test"


@pytest.mark.parametrize(("header", "vouched"), [
    ("mx.shop.test; dmarc=pass header.from=example.org", True),
    ("mx.shop.test; dkim=pass header.d=example.org header.s=s1", True),
    ("mx.shop.test; dkim=pass header.d=mail.example.org", True),  # relaxed alignment
    ("mx.shop.test; spf=pass smtp.mailfrom=bounces@example.org", True),
    ("MX.Shop.Test (Postfix 3.7); spf=fail smtp.mailfrom=example.org; dkim=pass (ok) header.d=example.org", True),
    ("mx.shop.test; dkim=pass header.d=mailer.example.net; spf=pass smtp.mailfrom=x@mailer.example.net", False),
    ("mx.shop.test; dkim=fail header.d=example.org; dmarc=fail header.from=example.org", False),
    ("mx.shop.test; dmarc=pass header.from=other.example", False),
    ("mx.attacker.test; dkim=pass header.d=example.org", False),  # not our MTA's header
    ("mx.shop.test.attacker; dkim=pass header.d=example.org", False),
    ("mx.shop.test; none", False),
    ("", False),
])
def test_only_our_mtas_pass_for_the_from_domain_vouches_for_a_mail(header: str, vouched: bool) -> None:
    assert mail_authenticated([header], MTA, "jo@example.org") is vouched


def test_nothing_vouches_without_a_trusted_mta_or_a_from_address() -> None:
    header = "mx.shop.test; dmarc=pass header.from=example.org"
    assert not mail_authenticated([header], "", "jo@example.org")
    assert not mail_authenticated([header], MTA, "")
    assert mail_authenticated(["mx.attacker.test; dkim=pass header.d=example.org", header], MTA, "jo@example.org")
