"""Customer identity across channels, in process on both profiles (fake clock, a real SMTP relay catching the
verification mail): the shop's signed identities, a verified e-mail address and a linked IM account make one
customer of several channels (their profile, past tickets and routing follow), unverified identities stay apart,
codes expire, are used once and are rate limited, sender spoofing is held off, and links go with the customer's
data (export, erasure) or when the customer or an admin removes them."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from handoff.core.errors import BadRequest, NotAllowed, RateLimited, UnknownConversation
from handoff.core.model import AgentId, ConversationRecord, Role, State
from handoff.service import HandoffService
from handoff.service.auth import Principal, widget_signature
from handoff.settings import Secret
from tests.handoff.conftest import OpenService
from tests.handoff.service.mail_relay import CatchingRelay
from tests.handoff.service.test_mail import mail_settings
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock, FakeRasa

SHOP = "shop-secret"
MARIA = "shop-1001"  # Maria Jensen, vip (data/demo/customers.yml)
ADDRESS = "maria.private@example.org"
ADMIN = Principal(AgentId("a_keeper"), "keeper", "Test Admin", Role.ADMIN)


@pytest.fixture
async def service(open_service: OpenService, relay: CatchingRelay, tmp_path: Path) -> HandoffService:
    return await open_service(**mail_settings(relay, tmp_path), widget_secret=Secret(SHOP))


async def signed_in(service: HandoffService, clock: FakeClock, external_id: str = MARIA,
                    identities: str | None = None) -> ConversationRecord:
    expires = int(clock()) + 3600
    return await service.customers.open(external_id=external_id, expires=expires, identities=identities,
                                        signature=widget_signature(SHOP, external_id, expires, identities))


def mail(sender: str, text: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@shop.test", "Hello"
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return bytes(message)


async def verify(service: HandoffService, relay: CatchingRelay, record: ConversationRecord, address: str) -> None:
    """The customer asks for a code for ``address``, reads it from the mail and types it back."""
    before = len([m for m in relay.messages if m["Subject"] == "Your verification code"])
    await service.identities.request_email_code(record, address)
    await relay.wait_for(1)
    sent = [m for m in relay.messages if m["Subject"] == "Your verification code"]  # sent before the call returned
    assert len(sent) == before + 1 and sent[-1]["To"] == address.lower()
    code = re.search(r"\b([A-Z2-9]{8})\b", sent[-1].get_content())
    assert code is not None
    await service.identities.confirm_email(record, address, code.group(1))


async def test_the_shop_signs_the_customers_identities_and_they_link(service: HandoffService,
                                                                      clock: FakeClock) -> None:
    record = await signed_in(service, clock, identities="email:Maria.Private@Example.org xmpp:maria@im.example/phone")
    assert await service.identities.listed(record) == [
        {"channel": "email", "address": ADDRESS, "verified_by": "shop_signed",
         "verified_at": "2026-11-25T14:00:00.000+00:00"},
        {"channel": "xmpp", "address": "maria@im.example", "verified_by": "shop_signed",
         "verified_at": "2026-11-25T14:00:00.000+00:00"}]
    link = await service.identities.customer_of("xmpp", "Maria@IM.example/laptop")
    assert link is not None and link.customer_id == record.customer_id
    # identities added to a signature made without them: not the shop's, so the visitor is anonymous
    expires = int(clock()) + 3600
    forged = await service.customers.open(external_id="shop-1002", expires=expires, identities="email:x@example.org",
                                          signature=widget_signature(SHOP, "shop-1002", expires))
    assert forged.customer_external_id is None
    assert await service.identities.customer_of("email", "x@example.org") is None
    plain = await signed_in(service, clock, "shop-1002")  # a signature of the earlier form still signs in
    assert plain.customer_external_id == "shop-1002" and await service.identities.listed(plain) == []


async def test_a_verified_address_makes_its_mail_the_customers_with_tier_tickets_and_sticky_agent(
        service: HandoffService, relay: CatchingRelay, clock: FakeClock, rasa: FakeRasa) -> None:
    assert service.mail is not None
    ada, grace = await Agent.sign_in(service, "ada"), await Agent.sign_in(service, "grace")
    widget = await signed_in(service, clock)
    maria = Customer(service, widget.conversation_id)
    await maria.say("a person please")
    first = await maria.record()
    assert first.state is State.ASSIGNED and first.agent_id is not None
    helper = ada if first.agent_id == ada.id else grace
    await service.desk.resolve(helper.principal, first.conversation_id)

    await verify(service, relay, widget, "Maria.Private@example.org")
    assert [(i["channel"], i["address"], i["verified_by"]) for i in await service.identities.listed(widget)] == [
        ("email", ADDRESS, "email_verified")]

    conversation_id = await service.mail.receive(mail(f"Maria <{ADDRESS}>", "I want to talk to a person again."))
    record = await service.customers.get(conversation_id or "")
    assert (record.customer_id, record.customer_name, record.channel) == (widget.customer_id, "Maria Jensen", "email")
    assert record.profile is not None and record.profile.value_tier == "vip" and record.profile.past_tickets == 1
    assert record.agent_id == helper.id  # sticky: the agent of her last ticket, on the other channel
    detail = await service.desk.detail(SUPERVISOR, record.conversation_id)
    assert [(t["channel"], t["id"]) for t in detail["past_tickets"]] == [("web", first.ticket_id)]
    assert detail["identities"][0]["address"] == ADDRESS and detail["customer"]["value_tier"] == "vip"
    # without HANDOFF_MAIL_TRUST_AUTH_RESULTS the From header is not proof enough to act on her orders
    assert rasa.heard[-1][2] == {"channel": "email"}


async def test_unverified_addresses_and_a_reply_to_elsewhere_stay_apart(service: HandoffService,
                                                                         relay: CatchingRelay,
                                                                         clock: FakeClock) -> None:
    assert service.mail is not None
    widget = await signed_in(service, clock)
    await service.identities.request_email_code(widget, ADDRESS)  # asked, never confirmed: not linked
    other = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?"))
    stranger = await service.mail.receive(mail("<someone@example.org>", "Where is my parcel?"))
    await verify(service, relay, widget, ADDRESS)
    diverted = await service.mail.receive(mail(f"<{ADDRESS}>", "Send it to me", Reply_To="thief@example.net"))
    linked = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?"))
    owners = [(await service.customers.get(c or "")).customer_id for c in (other, stranger, diverted, linked)]
    assert owners[3] == widget.customer_id
    assert len(set(owners)) == 4  # each unverified identity its own pseudo-customer, the linked one hers


async def test_with_trusted_authentication_results_only_mail_the_mta_vouched_for_is_the_customers(
        open_service: OpenService, relay: CatchingRelay, tmp_path: Path, clock: FakeClock, rasa: FakeRasa) -> None:
    service = await open_service(**mail_settings(relay, tmp_path), widget_secret=Secret(SHOP),
                                 mail_trust_auth_results="mx.shop.test")
    assert service.mail is not None
    widget = await signed_in(service, clock, identities=f"email:{ADDRESS}")
    unchecked = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?"))
    foreign = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?", Authentication_Results=(
        "mx.attacker.test; dkim=pass header.d=example.org; dmarc=pass header.from=example.org")))
    failed = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?", Authentication_Results=(
        "mx.shop.test; spf=softfail smtp.mailfrom=example.org; dkim=none; dmarc=fail header.from=example.org")))
    unaligned = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?", Authentication_Results=(
        "mx.shop.test; dkim=pass header.d=mailer.example.net; spf=pass smtp.mailfrom=bounce@mailer.example.net")))
    passed = await service.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?", Authentication_Results=(
        "mx.shop.test (Postfix); spf=fail smtp.mailfrom=example.org; dkim=pass (good) header.d=example.org")))
    owners = [(await service.customers.get(c or "")).customer_id for c in (unchecked, foreign, failed, unaligned)]
    assert widget.customer_id not in owners
    record = await service.customers.get(passed or "")
    assert record.customer_id == widget.customer_id and record.customer_external_id == MARIA
    assert rasa.heard[-1][2] == {"channel": "email", "customer_external_id": MARIA}  # vouched: her orders


async def test_an_im_account_links_with_a_code_used_once_before_it_expires(service: HandoffService,
                                                                            clock: FakeClock) -> None:
    widget = await signed_in(service, clock)
    given = await service.identities.link_code(widget)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", given["code"]) and given["command"] == f"link {given['code']}"
    typed = given["code"][:4].lower() + "-" + given["code"][4:]  # any case, a hyphen between the halves
    assert await service.identities.link_with_code("xmpp", "Maria@IM.example/laptop", typed) == widget.customer_id
    with pytest.raises(BadRequest):  # used
        await service.identities.link_with_code("xmpp", "mallory@im.example", given["code"])
    link = await service.identities.customer_of("xmpp", "maria@im.example")
    assert link is not None and (link.customer_id, link.verified_by) == (widget.customer_id, "im_linked")
    late = await service.identities.link_code(widget)
    clock.advance(service.settings.link_code_ttl + 1)
    with pytest.raises(BadRequest):  # expired
        await service.identities.link_with_code("telegram", "12345678", late["code"])
    with pytest.raises(BadRequest):  # never given
        await service.identities.link_with_code("telegram", "12345678", "ABCDEFGH")
    with pytest.raises(BadRequest):  # e-mail addresses are verified by mail, not by a code
        await service.identities.link_with_code("email", ADDRESS, (await service.identities.link_code(widget))["code"])
    assert await service.identities.customer_of("telegram", "12345678") is None


async def test_code_requests_and_tries_are_rate_limited(service: HandoffService, clock: FakeClock) -> None:
    widget = await signed_in(service, clock)
    for _ in range(service.settings.link_codes_per_hour):
        await service.identities.link_code(widget)
    with pytest.raises(RateLimited):
        await service.identities.link_code(widget)
    with pytest.raises(RateLimited):
        await service.identities.request_email_code(widget, ADDRESS)
    for _ in range(service.settings.link_attempts_per_hour):
        with pytest.raises(BadRequest):
            await service.identities.link_with_code("xmpp", "guesser@im.example", "ABCDEFGH")
    with pytest.raises(RateLimited):
        await service.identities.link_with_code("xmpp", "guesser@im.example", "ABCDEFGH")
    for _ in range(service.settings.link_attempts_per_hour):
        with pytest.raises(BadRequest):
            await service.identities.confirm_email(widget, ADDRESS, "ABCDEFGH")
    with pytest.raises(RateLimited):
        await service.identities.confirm_email(widget, ADDRESS, "ABCDEFGH")
    clock.advance(3600)
    await service.identities.link_code(widget)  # a new hour


async def test_an_anonymous_visitor_links_nothing(service: HandoffService) -> None:
    anonymous = await service.customers.open(name="Eve")
    assert await service.identities.listed(anonymous) == []
    for attempt in (service.identities.link_code(anonymous),
                    service.identities.request_email_code(anonymous, ADDRESS),
                    service.identities.confirm_email(anonymous, ADDRESS, "ABCDEFGH"),
                    service.identities.unlink_own(anonymous, "email", ADDRESS)):
        with pytest.raises(NotAllowed):
            await attempt


async def test_links_are_removed_by_the_customer_or_an_admin_and_go_with_the_customers_data(
        service: HandoffService, clock: FakeClock) -> None:
    assert service.mail is not None
    maria = await signed_in(service, clock, identities=f"email:{ADDRESS} xmpp:maria@im.example telegram:4242")
    tom = await signed_in(service, clock, "shop-1002")
    with pytest.raises(UnknownConversation):  # not his: the same answer as no link at all
        await service.identities.unlink_own(tom, "email", ADDRESS)
    await service.identities.unlink_own(maria, "xmpp", "Maria@im.example/phone")
    with pytest.raises(NotAllowed):
        await service.identities.unlink(SUPERVISOR, maria.customer_id, "telegram", "4242")
    await service.identities.unlink(ADMIN, maria.customer_id, "telegram", "4242")
    assert [i["channel"] for i in await service.identities.listed(maria)] == ["email"]

    exported = await service.data.export(external_id=MARIA)
    assert [i["address"] for i in exported["customers"][0]["identities"]] == [ADDRESS]
    linked = await service.mail.receive(mail(f"<{ADDRESS}>", "Hello again"))
    assert (await service.customers.get(linked or "")).customer_id == maria.customer_id
    await service.data.delete(external_id=MARIA)
    assert await service.identities.customer_of("email", ADDRESS) is None
    after = await service.mail.receive(mail(f"<{ADDRESS}>", "Hello again"))
    assert (await service.customers.get(after or "")).customer_id != maria.customer_id  # a stranger now


async def test_a_restart_never_vouches_for_an_e_mail_conversation_of_a_linked_customer(
        open_service: OpenService, relay: CatchingRelay, tmp_path: Path, clock: FakeClock) -> None:
    first = await open_service(**mail_settings(relay, tmp_path), widget_secret=Secret(SHOP))
    assert first.mail is not None
    widget = await signed_in(first, clock, identities=f"email:{ADDRESS}")
    conversation_id = await first.mail.receive(mail(f"<{ADDRESS}>", "Where is my parcel?"))
    assert (await first.customers.get(conversation_id or "")).customer_external_id is None  # not vouched
    await first.close()
    again = await open_service(**mail_settings(relay, tmp_path), widget_secret=Secret(SHOP), forget=True)
    record = await again.customers.get(conversation_id or "")
    assert record.customer_id == widget.customer_id and record.customer_external_id is None
    assert (await again.customers.get(widget.conversation_id)).customer_external_id == MARIA  # the widget's: signed


async def test_retention_deletes_the_links_of_the_customers_it_deletes(service: HandoffService,
                                                                        clock: FakeClock) -> None:
    old = await signed_in(service, clock, "shop-9999", identities="telegram:777")  # a customer of T0
    clock.advance(service.settings.retention_days * 86400 + 86400)
    result = await service.data.retention()
    assert result["conversations"] == 1 and await service.identities.customer_of("telegram", "777") is None
    assert await service.identities.of_customer(old.customer_id) == []
