"""The customer's side of the service: talking to the bot, resends, bad input, a dead bot, coming back."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from starlette.datastructures import Secret

from handoff.core.errors import BadRequest, NotAllowed, UnknownConversation
from handoff.core.model import State
from handoff.service import HandoffService
from handoff.service.auth import MAX_SIGNATURE_LIFETIME, widget_signature
from tests.handoff.conftest import OpenService
from tests.handoff.frames import message_from, of_type
from tests.handoff.world import SUPERVISOR, T0, Agent, Customer, FakeClock, FakeRasa


async def test_the_bot_answers_and_the_customer_sees_it(service: HandoffService, rasa: FakeRasa) -> None:
    customer = await Customer.start(service, name="Jo")
    said = await customer.say("how much is shipping?")
    assert said.new and said.state is State.BOT
    echo = await customer.inbox.next(message_from("customer"))
    assert echo["message"]["id"] == said.message.id
    await customer.inbox.next(of_type("typing", sender="bot"))
    answer = await customer.inbox.next(message_from("bot", "$4.95"))
    assert answer["message"]["payload"]["custom"]["citation"]["article_id"] == "shipping-costs"
    assert rasa.heard == [(customer.conversation_id, "how much is shipping?", {"channel": "web"})]
    stored = await service.customers.history(customer.conversation_id)
    assert [(m.sender, m.text) for m in stored] == [("customer", "how much is shipping?"),
                                                     ("bot", "Standard shipping costs $4.95.")]
    assert [m.text for m in await service.customers.history(customer.conversation_id, after=said.message.id)] == [
        "Standard shipping costs $4.95."]


async def test_a_resend_is_stored_once_and_not_relayed_again(service: HandoffService, rasa: FakeRasa) -> None:
    customer = await Customer.start(service)
    first = await customer.say("hello there", client_id="k1")
    again = await customer.say("hello there", client_id="k1")
    assert first.new and not again.new and again.message.id == first.message.id
    frames = await customer.inbox.settle()
    assert [f["message"]["text"] for f in frames if f["type"] == "message" and f["message"]["sender"] == "customer"] \
        == ["hello there"]
    assert len(rasa.heard) == 1  # the bot heard it once


@pytest.mark.parametrize("text", ["", "   ", None, 42, "x" * 2001])
async def test_bad_text_is_refused_and_nothing_is_stored(service: HandoffService, text: object) -> None:
    customer = await Customer.start(service)
    with pytest.raises(BadRequest):
        await service.customers.says(customer.conversation_id, text, "c1")
    assert await service.customers.history(customer.conversation_id) == []


async def test_an_unknown_conversation_is_refused(service: HandoffService) -> None:
    with pytest.raises(UnknownConversation):
        await service.customers.says("c_nope", "hello", "c1")
    with pytest.raises(UnknownConversation):
        await service.customers.get("c_nope")


async def test_only_the_conversations_token_opens_it(service: HandoffService) -> None:
    mine, other = await Customer.start(service), await Customer.start(service)
    await service.customers.check_token(mine.conversation_id, service.customers.token(mine.conversation_id))
    genuine = service.customers.token(mine.conversation_id)
    version, issued, mac = genuine.split(".")
    earlier_form = hmac.new(str(service.settings.secret).encode(), f"conversation:{mine.conversation_id}".encode(),
                            hashlib.sha256).hexdigest()  # what tokens were before they expired: valid forever
    for token in (service.customers.token(other.conversation_id), None, "", "forged", "é" * 10, "v1.x.y",
                  f"{version}.{int(issued) + 1}.{mac}", f"v2.{issued}.{mac}", "v1.99999999999999999999.00",
                  genuine.upper(), genuine + "\u00e9", earlier_form):
        with pytest.raises(NotAllowed):
            await service.customers.check_token(mine.conversation_id, token)


async def test_a_customer_token_expires(service: HandoffService, clock: FakeClock) -> None:
    customer = await Customer.start(service)
    token = service.customers.token(customer.conversation_id)
    clock.advance(service.settings.customer_token_ttl - 1)
    await service.customers.check_token(customer.conversation_id, token)
    clock.advance(2)
    with pytest.raises(NotAllowed, match="expired"):
        await service.customers.check_token(customer.conversation_id, token)
    await service.customers.check_token(customer.conversation_id, service.customers.token(customer.conversation_id))


async def test_revoking_refuses_every_earlier_token_and_closes_the_sockets(service: HandoffService,
                                                                          clock: FakeClock) -> None:
    customer, other = await Customer.start(service), await Customer.start(service)
    token = service.customers.token(customer.conversation_id)
    await service.customers.revoke_tokens(customer.conversation_id)
    await customer.inbox.next(of_type("revoked"))  # the customer's sockets close on it (4401)
    with pytest.raises(NotAllowed):
        await service.customers.check_token(customer.conversation_id, token)
    await service.customers.check_token(other.conversation_id, service.customers.token(other.conversation_id))
    clock.advance(1)
    await service.customers.check_token(customer.conversation_id, service.customers.token(customer.conversation_id))


async def test_a_dead_bot_hands_the_customer_to_a_person_and_keeps_the_message(
        service: HandoffService, rasa: FakeRasa) -> None:
    agent = await Agent.sign_in(service, "grace")
    rasa.down = True
    customer = await Customer.start(service)
    await customer.say("hello?")
    await customer.inbox.next(message_from("system", "not answering right now"))
    assigned = await agent.inbox.next(of_type("assigned"))
    assert assigned["conversation"]["reasons"] == ["bot_unavailable"]
    ticket = await service.helpdesk.ticket(SUPERVISOR, assigned["conversation"]["ticket_id"])
    assert [r["code"] for r in ticket["reasons"]] == ["bot_unavailable"]
    assert (await service.customers.history(customer.conversation_id))[0].text == "hello?"


async def test_a_customer_writing_after_the_end_is_back_with_the_bot(service: HandoffService, rasa: FakeRasa) -> None:
    agent = await Agent.sign_in(service, "grace")
    customer = await Customer.start(service)
    await customer.say("I want a human")
    await agent.inbox.next(of_type("assigned"))
    await service.desk.resolve(agent.principal, customer.conversation_id)
    await customer.inbox.next(of_type("state", state="resolved"))
    await customer.say("one more thing about shipping")
    await customer.inbox.next(of_type("state", state="bot"))
    await customer.inbox.next(message_from("bot", "$4.95"))
    record = await customer.record()
    assert (record.state, record.ticket_id, record.queued_at, record.reasons, record.rank) == (
        State.BOT, None, None, (), None)
    transitions = await service.helpdesk.ticket(SUPERVISOR, 1)
    assert transitions["status"] == "resolved"
    assert rasa.heard[-1][1] == "one more thing about shipping"


async def test_while_queued_or_assigned_the_bot_hears_nothing(service: HandoffService, rasa: FakeRasa) -> None:
    customer = await Customer.start(service)
    await customer.say("a person please")  # nobody is online: queued
    await customer.inbox.next(of_type("state", state="queued"))
    heard = len(rasa.heard)
    said = await customer.say("are you there?")
    assert said.state is State.QUEUED
    assert len(rasa.heard) == heard


async def test_the_shops_signature_links_a_known_customer(open_service: OpenService) -> None:
    service = await open_service(widget_secret=Secret("shop-secret"))
    expires = int(T0.timestamp()) + 3600
    signature = widget_signature("shop-secret", "shop-1001", expires)
    known = await service.customers.open(external_id="shop-1001", expires=expires, signature=signature)
    assert (known.customer_name, known.customer_email) == ("Maria Jensen", "maria.jensen@example.com")
    assert known.customer_external_id == "shop-1001"
    forged = await service.customers.open(external_id="shop-1001", expires=expires, signature="0" * 64,
                                          name="Mallory")
    unsigned = await service.customers.open(external_id="shop-1001", name="Eve")
    assert forged.customer_id != known.customer_id and unsigned.customer_id != known.customer_id
    assert forged.customer_name == "Mallory"
    assert forged.customer_external_id is None and unsigned.customer_external_id is None


async def test_the_verified_customer_id_reaches_the_bot_with_every_message(open_service: OpenService,
                                                                           rasa: FakeRasa) -> None:
    """The order actions act on this customer's orders only: the id comes from the service, never the customer."""
    service = await open_service(widget_secret=Secret("shop-secret"))
    expires = int(T0.timestamp()) + 600
    record = await service.customers.open(external_id="shop-1002", expires=expires,
                                          signature=widget_signature("shop-secret", "shop-1002", expires))
    signed = Customer(service, record.conversation_id)
    await signed.say("where is my order 23456")
    await signed.say("and 12345?")
    anonymous = await Customer.start(service)
    await anonymous.say("where is my order 23456")
    heard = {(sender, text): metadata for sender, text, metadata in rasa.heard}
    assert heard[(record.conversation_id, "where is my order 23456")] == {"channel": "web",
                                                                          "customer_external_id": "shop-1002"}
    assert heard[(record.conversation_id, "and 12345?")]["customer_external_id"] == "shop-1002"
    assert heard[(anonymous.conversation_id, "where is my order 23456")] == {"channel": "web"}
    assert (await signed.record()).customer_external_id == "shop-1002"  # kept on the live record


@pytest.mark.parametrize(("why", "expires_in", "signed_with", "signed_id"), [
    ("wrong secret", 600, "not-the-shop", "shop-1001"),
    ("signed for another customer", 600, "shop-secret", "shop-1002"),
    ("expired", -1, "shop-secret", "shop-1001"),
    ("expires too far ahead", MAX_SIGNATURE_LIFETIME + 60, "shop-secret", "shop-1001"),
])
async def test_a_bad_or_stale_signature_leaves_the_visitor_anonymous(
        open_service: OpenService, rasa: FakeRasa, why: str, expires_in: float, signed_with: str,
        signed_id: str) -> None:
    service = await open_service(widget_secret=Secret("shop-secret"))
    expires = int(T0.timestamp() + expires_in)
    record = await service.customers.open(external_id="shop-1001", expires=expires,
                                          signature=widget_signature(signed_with, signed_id, expires))
    assert record.customer_external_id is None and record.customer_name is None, why
    await Customer(service, record.conversation_id).say("where is my order 12345")
    assert rasa.heard[-1][2] == {"channel": "web"}


async def test_a_signature_without_an_expiry_is_not_accepted(open_service: OpenService) -> None:
    """The former format (HMAC of the id alone) could be replayed for ever."""
    service = await open_service(widget_secret=Secret("shop-secret"))
    old_style = hmac.new(b"shop-secret", b"shop-1001", hashlib.sha256).hexdigest()
    record = await service.customers.open(external_id="shop-1001", signature=old_style)
    assert record.customer_external_id is None


async def test_a_disconnected_customer_is_remembered_and_a_returning_one_forgotten(service: HandoffService) -> None:
    customer = await Customer.start(service)
    record = await customer.record()
    await service.customers.presence(customer.conversation_id, connected=True, seen=record)
    assert (await customer.record()).version == record.version  # nothing to write
    await service.customers.presence(customer.conversation_id, connected=False)
    assert (await customer.record()).customer_left_at is not None
    await service.customers.presence(customer.conversation_id, connected=True, seen=await customer.record())
    assert (await customer.record()).customer_left_at is None


async def test_the_customer_typing_reaches_the_assigned_agent_only(service: HandoffService) -> None:
    customer = await Customer.start(service)
    await service.customers.typing(customer.conversation_id)  # the bot's: nobody to tell
    agent = await Agent.sign_in(service, "grace")
    await customer.say("human please")
    await agent.inbox.next(of_type("assigned"))
    await service.customers.typing(customer.conversation_id)
    await agent.inbox.next(of_type("typing", conversation_id=customer.conversation_id))
