"""The IM channels' core (service/im.py) with a test double of the provider: an event taken in once, the address's
conversation, the bot's and the agent's words out through the transport, an outage retried with back-off and
shown to the agent, a button answered by its number. The real XMPP server's tests: tests/handoff/e2e/test_xmpp.py.
"""

from __future__ import annotations

import asyncio

import pytest

from handoff.core.model import State
from handoff.service import HandoffService
from handoff.service.ports import InboundIm
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.service.im_provider import FakeImProvider
from tests.handoff.world import SUPERVISOR, Agent, FakeClock, FakeRasa

JANE = "jane@chat.test"


@pytest.fixture
def provider() -> FakeImProvider:
    return FakeImProvider()


@pytest.fixture
async def im_service(open_service: OpenService, provider: FakeImProvider) -> HandoffService:
    return await open_service(channels=("web", "xmpp"), im_transports={"xmpp": provider})


async def said(service: HandoffService, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.sender, m.text) for m in await service.customers.history(conversation_id)]


async def settled(service: HandoffService) -> None:
    assert service.im is not None
    await service.im.settle()


async def test_a_customer_writes_and_the_bot_answers_on_the_channel(
        im_service: HandoffService, provider: FakeImProvider, rasa: FakeRasa) -> None:
    assert provider.starts == 1
    conversation_id = await provider.writes(JANE, "How much is shipping?", "e1", name="Jane")
    assert isinstance(conversation_id, str)
    record = await im_service.customers.get(conversation_id)
    assert (record.channel, record.customer_name, record.state) == ("xmpp", "Jane", State.BOT)
    assert rasa.heard[-1][1:] == ("How much is shipping?", {"channel": "xmpp"})
    await settled(im_service)
    assert provider.texts_to(JANE) == ["Standard shipping costs $4.95.\n\n"
                                       "Shipping costs: https://help.example.com/articles/shipping-costs"]
    assert await said(im_service, conversation_id) == [("customer", "How much is shipping?"),
                                                       ("bot", "Standard shipping costs $4.95.")]
    assert await provider.writes(JANE, "thanks!", "e2") == conversation_id  # the same conversation


async def test_an_event_delivered_twice_is_taken_in_once_also_at_the_same_moment(
        im_service: HandoffService, provider: FakeImProvider, rasa: FakeRasa) -> None:
    first, second = await asyncio.gather(provider.writes(JANE, "hello", "same"), provider.writes(JANE, "hello",
                                                                                                 "same"))
    conversation_id = first or second
    assert conversation_id and None in (first, second)
    assert await provider.writes(JANE, "hello", "same") is None
    assert await said(im_service, str(conversation_id)) == [("customer", "hello"),
                                                            ("bot", "I can help with orders, shipping and returns.")]
    assert len(rasa.heard) == 1


async def test_a_second_instance_takes_the_same_event_in_once(
        profile: str, open_service: OpenService, provider: FakeImProvider) -> None:
    first = await open_service(channels=("web", "xmpp"), im_transports={"xmpp": provider})
    if profile == "embedded":
        return  # one process: the race is the test above; production's instances share the database
    other = FakeImProvider()
    second = await open_service(channels=("web", "xmpp"), im_transports={"xmpp": other})
    assert (provider.starts, other.starts) == (1, 0)  # one instance holds the session
    assert second.im is not None
    results = await asyncio.gather(provider.writes(JANE, "hello", "e9"),
                                   second.im.receive(InboundIm("xmpp", JANE, "e9", "hello")))
    assert sum(1 for r in results if r) == 1
    conversation_id = next(r for r in results if r)
    assert [s for s, _ in await said(first, str(conversation_id))] == ["customer", "bot"]
    assert await second.im.hold_sessions() == ()  # still the first's
    await first.close()  # it lets the session go: the second takes it at its next look
    assert await second.im.hold_sessions() == ("xmpp",)
    assert other.starts == 1 and other.deliver is not None


async def test_after_the_conversation_ended_the_address_writes_in_a_new_one_as_the_same_customer(
        im_service: HandoffService, provider: FakeImProvider) -> None:
    agent = await Agent.sign_in(im_service, "ada")
    first = await provider.writes(JANE, "I want a person", "e1")
    record = await im_service.customers.get(str(first))
    assert (record.state, record.agent_id) == (State.ASSIGNED, agent.id)
    await im_service.desk.resolve(agent.principal, str(first))
    second = await provider.writes(JANE, "hello again", "e2")
    assert second != first
    assert (await im_service.customers.get(str(second))).customer_id == record.customer_id
    other = await provider.writes("bob@chat.test", "hello", "e3")
    assert (await im_service.customers.get(str(other))).customer_id != record.customer_id


async def test_an_agent_takes_over_and_the_customer_gets_their_words(
        im_service: HandoffService, provider: FakeImProvider, rasa: FakeRasa) -> None:
    agent = await Agent.sign_in(im_service, "ada")
    conversation_id = str(await provider.writes(JANE, "I want to talk to a person", "e1"))
    await agent.inbox.next(of_type("assigned"))
    heard = len(rasa.heard)
    await agent.say(conversation_id, "Hello Jane, Ada here. How can I help?")
    [reply] = [m for m in await im_service.customers.history(conversation_id) if m.sender == "agent"]
    await agent.inbox.next(of_type("delivery", status="sent", conversation_id=conversation_id, channel="xmpp",
                                   message_id=reply.id))
    texts = provider.texts_to(JANE)
    assert texts[0] == "I'm passing you to one of my colleagues."
    assert "Ada Lovelace has joined the conversation." in texts
    assert texts[-1] == "Ada Lovelace: Hello Jane, Ada here. How can I help?"
    assert await provider.writes(JANE, "My parcel is late", "e2") == conversation_id
    await agent.inbox.next(of_type("message", conversation_id=conversation_id))
    assert len(rasa.heard) == heard  # the agent's conversation: the bot does not hear it


async def test_a_provider_outage_is_retried_with_back_off_shown_to_the_agent_and_sent_once(
        im_service: HandoffService, provider: FakeImProvider, clock: FakeClock) -> None:
    agent = await Agent.sign_in(im_service, "ada")
    conversation_id = str(await provider.writes(JANE, "I want a person", "e1"))
    await agent.inbox.next(of_type("assigned"))
    await settled(im_service)
    provider.down = True
    await agent.say(conversation_id, "Your refund is on its way.")
    await settled(im_service)
    retrying = await agent.inbox.next(of_type("delivery", status="retrying", conversation_id=conversation_id))
    assert retrying["error"] == "not connected to the XMPP server"
    assert retrying["next_try"] == clock() + 5.0
    await im_service.sweep()
    assert "Ada Lovelace: Your refund is on its way." not in provider.texts_to(JANE)  # not due yet
    clock.advance(5)
    await im_service.sweep()
    again = await agent.inbox.next(of_type("delivery", status="retrying", conversation_id=conversation_id))
    assert again["next_try"] == clock() + 10.0  # doubled
    provider.down = False
    clock.advance(10)
    await im_service.sweep()
    await agent.inbox.next(of_type("delivery", status="sent", conversation_id=conversation_id))
    clock.advance(600)
    await im_service.sweep()
    assert provider.texts_to(JANE).count("Ada Lovelace: Your refund is on its way.") == 1


async def test_a_buttons_number_is_the_button_the_bot_is_told_its_payload(
        im_service: HandoffService, provider: FakeImProvider, rasa: FakeRasa) -> None:
    rasa.replies_to["my order"] = [{"text": "Is it order 1042?", "buttons": [
        {"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]}]
    conversation_id = str(await provider.writes(JANE, "my order", "e1"))
    await settled(im_service)
    assert provider.texts_to(JANE)[-1] == "Is it order 1042?\n\n1. Yes\n2. No\n(Answer with a number or the words.)"
    await provider.writes(JANE, "1", "e2")
    assert rasa.heard[-1][1] == "/affirm"
    assert (await said(im_service, conversation_id))[2] == ("customer", "Yes")  # the agent reads the title
    await provider.writes(JANE, "1", "e3")  # the last message had no buttons: "1" is just "1"
    assert rasa.heard[-1][1] == "1"


async def test_empty_messages_and_unknown_channels_are_not_taken_in(
        im_service: HandoffService, provider: FakeImProvider) -> None:
    assert await provider.writes(JANE, " \x00 ", "e1") is None
    assert im_service.im is not None
    with pytest.raises(ValueError, match="telegram"):
        await im_service.im.receive(InboundIm("telegram", JANE, "e2", "hello"))


async def test_erasing_the_customer_deletes_their_instant_messages(
        im_service: HandoffService, provider: FakeImProvider, clock: FakeClock) -> None:
    conversation_id = str(await provider.writes(JANE, "hello", "e1"))
    await settled(im_service)
    log = im_service._log  # what the ticket log keeps of the channel
    assert [row.direction for row in await log.im.thread(conversation_id)] == ["in", "out"]
    assert await im_service.data.delete(conversation_id=conversation_id) == {"customers": 1, "conversations": 1}
    assert await log.im.thread(conversation_id) == []
    assert await log.im.customer_of("xmpp", JANE) is None
    second = await provider.writes(JANE, "hello again", "e2")  # a new customer, a new conversation
    assert second != conversation_id


async def test_an_event_whose_taker_died_half_way_is_taken_again_later(
        im_service: HandoffService, provider: FakeImProvider, clock: FakeClock) -> None:
    log = im_service._log
    assert await log.im.claim_in("xmpp", "e1", JANE, clock()) is not None  # then the instance died
    assert await provider.writes(JANE, "hello", "e1") is None  # the provider's re-delivery: still being taken in
    clock.advance(301)
    conversation_id = await provider.writes(JANE, "hello", "e1")
    assert conversation_id is not None
    assert [s for s, _ in await said(im_service, str(conversation_id))] == ["customer", "bot"]


async def test_an_im_account_linked_by_a_code_writes_as_its_customer(
        open_service: OpenService, provider: FakeImProvider, clock: FakeClock) -> None:
    """``link CODE`` from the IM account (the code a signed-in widget customer was given) links the account: the
    command is no customer message, the account is told, and its next conversation is the customer's (their
    profile, vouched); a wrong code is refused and links nothing."""
    from handoff.service.auth import widget_signature
    from handoff.settings import Secret

    service = await open_service(channels=("web", "xmpp"), im_transports={"xmpp": provider},
                                 widget_secret=Secret("shop"))
    expires = int(clock()) + 3600
    widget = await service.customers.open(external_id="shop-1001", expires=expires,
                                          signature=widget_signature("shop", "shop-1001", expires, None))
    assert await provider.writes(JANE, "link ABCDEFGH", "l1") is None  # never given
    assert await service.identities.customer_of("xmpp", JANE) is None
    code = (await service.identities.link_code(widget))["code"]
    assert await provider.writes(JANE, f"link {code}", "l2") is None  # a command, not a message
    assert await provider.writes(JANE, f"link {code}", "l2") is None  # delivered again: taken once
    texts = provider.texts_to(JANE)
    assert len(texts) == 2 and "not" in texts[0].lower() and texts[1].startswith("This account is now linked")
    link = await service.identities.customer_of("xmpp", JANE)
    assert link is not None and link.customer_id == widget.customer_id
    conversation_id = await provider.writes(JANE, "Where is my parcel?", "l3")
    record = await service.customers.get(str(conversation_id))
    assert record.customer_id == widget.customer_id and record.customer_external_id == "shop-1001"
    assert (await said(service, str(conversation_id)))[0] == ("customer", "Where is my parcel?")


RATING_PROMPT = ("How did we do? Please rate this conversation from 1 (very poor) to 5 (excellent).\n\n"
                 "1. 1 (very poor)\n2. 2 (poor)\n3. 3 (okay)\n4. 4 (good)\n5. 5 (excellent)\n"
                 "(Answer with a number or the words.)")


async def resolved_by_ada(service: HandoffService, provider: FakeImProvider, event: str = "r1") -> str:
    """Jane asks for a person, Ada resolves: the rating prompt is the last message out."""
    agent = await Agent.sign_in(service, "ada")
    conversation_id = str(await provider.writes(JANE, "I want a person", event))
    await agent.inbox.next(of_type("assigned"))
    await service.desk.resolve(agent.principal, conversation_id)
    await settled(service)
    return conversation_id


async def ratings_of(service: HandoffService, conversation_id: str) -> list[tuple[int, str]]:
    return [(f["score"], f["channel"]) for f in await service.feedback.of_conversation(SUPERVISOR, conversation_id)
            if f["kind"] == "csat"]


async def test_a_rating_by_number_is_the_customers_rating_thanked_and_no_new_conversation(
        im_service: HandoffService, provider: FakeImProvider, rasa: FakeRasa) -> None:
    conversation_id = await resolved_by_ada(im_service, provider)
    assert provider.texts_to(JANE)[-1] == RATING_PROMPT
    heard = len(rasa.heard)
    assert await provider.writes(JANE, "4", "r2") is None  # no conversation opened
    assert provider.texts_to(JANE)[-1] == "Thank you for your rating (4 of 5)."
    assert await ratings_of(im_service, conversation_id) == [(4, "xmpp")]
    assert (await im_service.feedback.state(conversation_id))["rating"] == {"score": 4, "comment": None}
    assert [s for s, _ in await said(im_service, conversation_id)].count("customer") == 1  # no message kept
    assert len(rasa.heard) == heard
    assert await provider.writes(JANE, "4", "r2") is None  # delivered again: taken once
    assert provider.texts_to(JANE).count("Thank you for your rating (4 of 5).") == 1
    summary = await im_service.reports.summary(SUPERVISOR, since="2026-11-25", until="2026-11-26", by="channel")
    [row] = [r for r in summary["rows"] if r["key"] == "xmpp"]  # what the reports read: docs/metrics.md
    assert row["metrics"]["csat_responses"] == 1 and row["metrics"]["csat_average"] == 4


async def test_a_rating_by_telegram_button_and_by_title(open_service: OpenService) -> None:
    telegram = FakeImProvider(channel="telegram", exclusive=False)
    service = await open_service(channels=("web", "telegram"), im_transports={"telegram": telegram})
    conversation_id = await resolved_by_ada(service, telegram)
    _, prompt = telegram.sent[-1]
    assert prompt.text == "How did we do? Please rate this conversation from 1 (very poor) to 5 (excellent)."
    assert prompt.buttons == ("1 (very poor)", "2 (poor)", "3 (okay)", "4 (good)", "5 (excellent)")
    assert await telegram.writes(JANE, "", "t1", button="5 (excellent)") is None  # the inline button's press
    assert telegram.texts_to(JANE)[-1] == "Thank you for your rating (5 of 5)."
    assert await ratings_of(service, conversation_id) == [(5, "telegram")]
    assert await telegram.writes(JANE, "2 (poor)", "t2") is None  # the prompt is still the newest: changed
    assert await ratings_of(service, conversation_id) == [(2, "telegram")]


async def test_any_other_answer_or_a_late_one_is_a_message_as_any_other(
        im_service: HandoffService, provider: FakeImProvider) -> None:
    first = await resolved_by_ada(im_service, provider)
    second = await provider.writes(JANE, "7", "r2")  # no option: a new conversation, as today
    assert second is not None and second != first
    assert await ratings_of(im_service, first) == []
    assert (await said(im_service, str(second)))[0] == ("customer", "7")
    third = await provider.writes(JANE, "3", "r3")  # the prompt was answered by something else: too late
    assert third == second and await ratings_of(im_service, first) == []
