"""Customer feedback: when the rating is asked (resolve, thanks or goodbye, silence), what a rating or a vote
keeps (path, ticket, agent, intents, article), the follow-ups a low verdict opens, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.core.errors import BadRequest, NotAllowed, StateConflict
from handoff.service import HandoffService
from handoff.service.feedback import QUIET_PASS
from tests.handoff.conftest import OpenService
from tests.handoff.frames import Frame, message_from, of_type
from tests.handoff.world import SUPERVISOR, Agent, Customer, FakeClock


def asked(frame: Frame) -> bool:
    return message_from("system")(frame) and "feedback_request" in (frame["message"]["payload"] or {})


async def requests(service: HandoffService, customer: Customer) -> list[dict[str, Any]]:
    return [m.payload["feedback_request"] for m in await service.customers.history(customer.conversation_id)
            if m.sender == "system" and m.payload and "feedback_request" in m.payload]


async def resolved_by(service: HandoffService, username: str, *said: str) -> tuple[Agent, Customer]:
    """A customer who said ``said`` (the last one hands off), served and resolved by ``username``."""
    agent = await Agent.sign_in(service, username)
    customer = await Customer.start(service, name="Jo", email="jo@example.com")
    for text in said:
        await customer.say(text)
    await agent.inbox.next(of_type("assigned"))
    await agent.say(customer.conversation_id, "Sorted: your parcel ships today.")
    await service.desk.resolve(agent.principal, customer.conversation_id)
    return agent, customer


async def test_an_agents_resolve_asks_for_a_rating_which_keeps_what_it_judged(service: HandoffService) -> None:
    grace, customer = await resolved_by(service, "grace", "how much is shipping?", "a person please")
    request = await customer.inbox.next(asked)
    record = await customer.record()
    ticket_id = request["message"]["payload"]["feedback_request"]["ticket_id"]
    assert request["message"]["payload"]["feedback_request"]["reason"] == "resolved" and ticket_id is not None
    assert (await service.feedback.state(customer.conversation_id))["request"] == {
        "message_id": request["message"]["id"], "reason": "resolved"}
    rating = await service.feedback.rate(customer.conversation_id, 5, "  Quick and kind.  ")
    assert {k: rating[k] for k in ("kind", "score", "comment", "path", "ticket_id", "agent_id", "channel",
                                   "intents", "article_id", "article_version", "message_id", "follow_up")} == {
        "kind": "csat", "score": 5, "comment": "Quick and kind.", "path": "handoff", "ticket_id": ticket_id,
        "agent_id": grace.id, "channel": record.channel, "intents": ["ask_shipping", "request_human"],
        "article_id": "shipping-costs", "article_version": "abc123", "message_id": request["message"]["id"],
        "follow_up": None}
    assert (await service.feedback.state(customer.conversation_id))["rating"] == {"score": 5,
                                                                                 "comment": "Quick and kind."}


async def test_a_low_rating_opens_a_follow_up_that_a_changed_rating_closes(service: HandoffService) -> None:
    _, customer = await resolved_by(service, "grace", "I want a person")
    await customer.inbox.next(asked)
    low = await service.feedback.rate(customer.conversation_id, 2, "It took ages.")
    assert low["path"] == "human"  # handed off at the first message: the bot answered nothing
    assert low["follow_up"]["reason"] == "low_rating" and low["follow_up"]["status"] == "open"
    changed = await service.feedback.rate(customer.conversation_id, 4)
    assert changed["id"] == low["id"] and changed["score"] == 4 and changed["comment"] is None
    assert changed["follow_up"] == {**low["follow_up"], "status": "done"}
    rows = await service.feedback.of_conversation(SUPERVISOR, customer.conversation_id)
    assert [(r["kind"], r["score"]) for r in rows] == [("csat", 4)]  # replaced, not added
    lowest = await service.feedback.rate(customer.conversation_id, 1)
    assert lowest["follow_up"]["id"] == low["follow_up"]["id"]  # the same item: one per rating


async def test_thanks_after_an_answer_asks_once_and_only_once(service: HandoffService, clock: FakeClock) -> None:
    customer = await Customer.start(service)
    await customer.say("how much is shipping?")
    clock.advance(5)
    await customer.say("thanks!")
    request = await customer.inbox.next(asked)
    assert request["message"]["payload"]["feedback_request"] == {"reason": "thank", "ticket_id": None}
    await customer.say("bye")  # the same stretch with the bot: not asked again
    clock.advance(service.settings.feedback_quiet + QUIET_PASS)
    await service.sweep()
    assert len(await requests(service, customer)) == 1
    rating = await service.feedback.rate(customer.conversation_id, 4)
    assert (rating["path"], rating["ticket_id"], rating["agent_id"]) == ("bot", None, None)
    assert (rating["article_id"], rating["category"]) == ("shipping-costs", "shipping")
    assert rating["intents"] == ["ask_shipping", "thank", "goodbye"]


async def test_a_greeting_then_goodbye_is_no_conversation_to_rate(service: HandoffService) -> None:
    customer = await Customer.start(service)
    await customer.say("bye")
    assert await requests(service, customer) == []


async def test_a_conversation_with_the_bot_gone_quiet_is_asked_once(open_service: OpenService,
                                                                     clock: FakeClock) -> None:
    service = await open_service(feedback_quiet=60.0)
    talked, silent = await Customer.start(service), await Customer.start(service)
    await talked.say("how much is shipping?")
    await service.sweep()
    clock.advance(59)
    await service.sweep()
    assert await requests(service, talked) == []  # not quiet long enough yet
    clock.advance(QUIET_PASS)
    await service.sweep()
    assert await requests(service, talked) == [{"reason": "quiet", "ticket_id": None}]
    for _ in range(3):
        clock.advance(60 + QUIET_PASS)
        await service.sweep()
    assert len(await requests(service, talked)) == 1
    assert await requests(service, silent) == []  # never said anything: nothing to rate


async def test_no_ending_intents_means_only_silence_asks(open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(feedback_intents=())
    customer = await Customer.start(service)
    await customer.say("how much is shipping?")
    await customer.say("thanks")
    assert await requests(service, customer) == []


async def test_votes_on_knowledge_answers(service: HandoffService) -> None:
    customer, other = await Customer.start(service), await Customer.start(service)
    said = await customer.say("how much is shipping?")
    answer = (await customer.inbox.next(message_from("bot", "$4.95")))["message"]
    await other.say("how much is shipping?")
    theirs = (await other.inbox.next(message_from("bot", "$4.95")))["message"]
    helpful = await service.feedback.vote(customer.conversation_id, answer["id"], True)
    assert {k: helpful[k] for k in ("kind", "score", "path", "article_id", "article_version", "category",
                                    "message_id", "follow_up")} == {
        "kind": "helpful", "score": 1, "path": "bot", "article_id": "shipping-costs", "article_version": "abc123",
        "category": "shipping", "message_id": answer["id"], "follow_up": None}
    silent_no = await service.feedback.vote(customer.conversation_id, answer["id"], False)
    assert silent_no["id"] == helpful["id"] and silent_no["score"] == 0 and silent_no["follow_up"] is None
    no = await service.feedback.vote(customer.conversation_id, answer["id"], False, "It costs more to Ireland.")
    assert no["follow_up"]["reason"] == "not_helpful" and no["follow_up"]["status"] == "open"
    assert (await service.feedback.state(customer.conversation_id))["votes"] == [
        {"message_id": answer["id"], "helpful": False, "comment": "It costs more to Ireland."}]
    for message_id in (said.message.id, theirs["id"], 10**12, "1", True, None):
        with pytest.raises(BadRequest):
            await service.feedback.vote(customer.conversation_id, message_id, True)
    with pytest.raises(BadRequest):
        await service.feedback.vote(customer.conversation_id, answer["id"], "yes")


@pytest.mark.parametrize("score, comment", [(0, None), (6, None), (True, None), ("5", None), (4.5, None),
                                            (5, "x" * 1001), (5, 42), (5, "nul\x00"), (5, "bell\x07"),
                                            (5, "half \ud800 a pair")])
async def test_bad_ratings_are_refused_and_nothing_is_kept(service: HandoffService, score: Any,
                                                           comment: Any) -> None:
    _, customer = await resolved_by(service, "grace", "a person please")
    with pytest.raises(BadRequest):
        await service.feedback.rate(customer.conversation_id, score, comment)
    assert await service.feedback.of_conversation(SUPERVISOR, customer.conversation_id) == []


async def test_nothing_to_rate_before_a_request(service: HandoffService) -> None:
    customer = await Customer.start(service)
    await customer.say("how much is shipping?")
    with pytest.raises(StateConflict, match="nothing to rate yet"):
        await service.feedback.rate(customer.conversation_id, 5)


async def test_only_supervisors_read_a_conversations_feedback(service: HandoffService) -> None:
    grace, customer = await resolved_by(service, "grace", "a person please")
    await service.feedback.rate(customer.conversation_id, 1, "Nobody understood me.")
    with pytest.raises(NotAllowed):
        await service.feedback.of_conversation(grace.principal, customer.conversation_id)
    rows = await service.feedback.of_conversation(SUPERVISOR, customer.conversation_id)
    assert [(r["score"], r["comment"], r["follow_up"]["reason"]) for r in rows] == [
        (1, "Nobody understood me.", "low_rating")]


async def test_erasing_the_customer_keeps_the_score_without_the_comment(service: HandoffService) -> None:
    _, customer = await resolved_by(service, "grace", "how much is shipping?", "a person please")
    await service.feedback.rate(customer.conversation_id, 2, "Jo Smith, 12 Elm Road: late again")
    await service.data.delete(email="jo@example.com")
    rows = await service.feedback.of_conversation(SUPERVISOR, customer.conversation_id)
    assert [(r["score"], r["comment"], r["message_id"]) for r in rows] == [(2, None, None)]


async def test_retention_deletes_feedback_with_its_conversation(service: HandoffService, clock: FakeClock) -> None:
    _, customer = await resolved_by(service, "grace", "a person please")
    await service.feedback.rate(customer.conversation_id, 1)
    clock.advance(service.settings.retention_days * 86400 + 1)
    await service.data.retention()
    assert await service.feedback.state(customer.conversation_id) == {"request": None, "rating": None, "votes": []}
