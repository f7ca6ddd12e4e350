"""Team training in process, on both profiles: weak spots from a known history, scenarios made of well-rated
conversations with the customer's details masked, a practice session turn by turn scored with the real sentence
encoder, a supervisor's review, progress; who may see and do what; erasure."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.core.errors import BadRequest, Conflict, NotAllowed, UnknownConversation
from handoff.service import HandoffService
from handoff.service.auth import Principal
from tests.handoff.conftest import OpenService
from tests.handoff.qa_history import handled_ticket, rated, with_customer
from tests.handoff.world import PASSWORD, T0, Agent, FakeClock

DAY = 86400.0
ARTICLE = {"article_id": "returns-policy", "version": "v1", "title": "Returning an item", "category": "returns",
           "score": 0.71, "text": "Unworn items can be returned within 30 days for a full refund to the card used."}
WORDS = ("Hi, I'm Jo Tester, jo.tester@example.com. Can I still return the boots from order 4455667?",
         "Hi! Yes: unworn items can be returned within 30 days for a full refund, Jo.",
         "Great, and how do I send them? I live at 12 Baker Street, NW1 6XE.",
         "Print the prepaid label from your order page and drop the parcel at any post office.")


class ReturnsArticle:
    """The Knowledge port answering every question with the returns article (as Suggestions answers)."""

    async def for_text(self, text: str, k: int = 3) -> list[dict[str, Any]]:
        return [ARTICLE][:k]


@pytest.fixture
async def service(open_service: OpenService) -> HandoffService:
    return await open_service(knowledge=ReturnsArticle())


async def principals(service: HandoffService) -> dict[str, Principal]:
    people = {name: (await Agent.sign_in(service, name)).principal for name in ("ada", "grace", "linus", "admin")}
    _, people["tess"] = await service.accounts.sign_in("tess", PASSWORD)  # a trainer: no desk to watch
    return people


async def resolved_by_linus(service: HandoffService, people: dict[str, Principal], score: int = 5) -> int:
    """Linus's returns conversation with Jo Tester (her profile in the log), rated ``score``; its ticket."""
    log = service._log
    ticket = await handled_ticket(log, people["linus"].agent_id, at=T0.timestamp() + 60, handle=300, words=WORDS,
                                  category="returns")
    await with_customer(log, ticket, name="Jo Tester", email="jo.tester@example.com", external_id="shop-77", at=T0)
    await rated(log, ticket, score, at=T0.timestamp() + 600)
    return ticket


async def test_practice_weak_spots_from_the_history(service: HandoffService, clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    at = T0.timestamp() + 60
    for name, handle in (("grace", 900), ("linus", 300), ("ada", 300)):
        for index in range(5):
            end = "transferred" if name == "grace" and index < 2 else "resolved"
            await handled_ticket(service._log, people[name].agent_id, at=at, handle=handle, category="returns",
                                 end=end)
            at += 60
    spots = await service.practice.weak_spots(people["ada"])
    grace = next(r for r in spots["rows"] if r["agent_id"] == people["grace"].agent_id)
    assert [f["kind"] for f in grace["flags"]] == ["handle_time", "transfers"]
    assert grace["agent_name"] == "Grace Hopper" and grace["category"] == "returns"
    assert grace["agent"]["transfer_share"] == 0.4 and grace["team"]["handle_seconds"] == 300
    assert spots["rule"]["min_conversations"] == 5
    # an agent sees their own rows only, and may not ask for a colleague's
    own = await service.practice.weak_spots(people["grace"])
    assert {r["agent_id"] for r in own["rows"]} == {people["grace"].agent_id}
    with pytest.raises(NotAllowed):
        await service.practice.weak_spots(people["grace"], agent_id=people["linus"].agent_id)
    with pytest.raises(NotAllowed):
        await service.practice.weak_spots(people["tess"])


async def test_practice_scenarios_are_masked_and_only_of_well_rated_conversations(service: HandoffService,
                                                                                  clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    await resolved_by_linus(service, people)
    low = await handled_ticket(service._log, people["linus"].agent_id, at=T0.timestamp() + 900, handle=100)
    await rated(service._log, low, 1, at=T0.timestamp() + 1000)
    built = await service.practice.build(people["ada"])
    assert (built["considered"], built["added"], built["scenarios"]) == (1, 1, 1)
    [scenario] = await service._log.practice.scenarios()
    stored = repr(scenario.turns)
    for detail in ("Jo", "Tester", "jo.tester@example.com", "4455667", "Baker Street", "NW1 6XE"):
        assert detail not in stored
    assert scenario.turns[0]["customer"] == ("Hi, I'm [name], [email]. Can I still return the boots from order "
                                             "[order]?")
    assert scenario.turns[1]["customer"] == "Great, and how do I send them? I live at [address], [postcode]."
    assert scenario.turns[0]["article"]["article_id"] == "returns-policy"
    assert scenario.turns[0]["terms"][:2] == ["30", "unworn"]
    assert (await service.practice.build(people["ada"]))["added"] == 0  # once per conversation
    with pytest.raises(NotAllowed):
        await service.practice.build(people["grace"])


async def test_practice_session_turn_by_turn_then_reviewed(service: HandoffService, clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    grace, ada = people["grace"], people["ada"]
    await resolved_by_linus(service, people)
    presence = (await service._store.get_agent(grace.agent_id)).presence  # type: ignore[union-attr]
    session = await service.practice.start(grace)  # builds the scenarios itself: there were none
    assert session["status"] == "open" and session["turns"] == 2 and session["category"] == "returns"
    assert session["turns_shown"] == [{"turn": 0, "customer": "Hi, I'm [name], [email]. Can I still return the "
                                                             "boots from order [order]?"}]
    good = await service.practice.reply(grace, session["id"], "Yes, unworn items can be returned within 30 days "
                                                              "for a full refund.")
    first = good["turns_shown"][0]
    assert first["actual"] == "Hi! Yes: unworn items can be returned within 30 days for a full refund, [name]."
    assert first["article"]["title"] == "Returning an item"
    assert first["details"]["method"] == "encoder" and first["details"]["matched"][:2] == ["30", "unworn"]
    assert first["score"] >= 80, first["details"]
    assert good["turns_shown"][1] == {"turn": 1, "customer": "Great, and how do I send them? I live at [address], "
                                                             "[postcode]."}
    with pytest.raises(NotAllowed):  # nobody answers for another, a supervisor neither
        await service.practice.reply(ada, session["id"], "Hello")
    with pytest.raises(Conflict):  # not finished yet
        await service.practice.review(ada, session["id"], 70)
    done = await service.practice.reply(grace, session["id"], "I like turtles.")
    assert done["status"] == "finished" and done["turns_shown"][1]["score"] < 30
    assert done["total"] == round((first["score"] + done["turns_shown"][1]["score"]) / 2, 1)
    with pytest.raises(Conflict):
        await service.practice.reply(grace, session["id"], "again")
    assert (await service._store.get_agent(grace.agent_id)).presence == presence  # type: ignore[union-attr]

    assert [s["id"] for s in await service.practice.sessions(ada, to_review=True)] == [session["id"]]
    with pytest.raises(NotAllowed):
        await service.practice.review(grace, session["id"], 100)
    reviewed = await service.practice.review(ada, session["id"], 65, "Good first answer; the second was off.",
                                             [(1, "Tell them how to send it back.")])
    assert reviewed["review"]["score"] == 65 and reviewed["review"]["reviewer_name"] == "Ada Lovelace"
    mine = await service.practice.session(grace, session["id"])
    assert mine["review"]["comment"] == "Good first answer; the second was off."
    assert mine["turns_shown"][1]["review_comment"] == "Tell them how to send it back."
    assert await service.practice.sessions(ada, to_review=True) == []

    progress = await service.practice.progress(grace)
    [row] = progress["agents"]
    assert row["sessions"] == 1 and row["points"][0]["review_score"] == 65
    assert row["categories"] == [{"category": "returns", "sessions": 1, "auto": done["total"], "reviewed": 65}]
    assert (await service.practice.progress(ada, agent_id=people["linus"].agent_id))["agents"] == []
    with pytest.raises(NotAllowed):
        await service.practice.session(people["linus"], session["id"])
    with pytest.raises(NotAllowed):
        await service.practice.progress(grace, agent_id=people["linus"].agent_id)


async def test_practice_refusals_and_errors(service: HandoffService, clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    with pytest.raises(Conflict):  # nothing to practise on
        await service.practice.start(people["grace"])
    await resolved_by_linus(service, people)
    with pytest.raises(Conflict):  # Linus's own conversation is the only one
        await service.practice.start(people["linus"])
    with pytest.raises(NotAllowed):
        await service.practice.start(people["tess"])
    session = await service.practice.start(people["grace"], "returns")
    with pytest.raises(BadRequest):
        await service.practice.reply(people["grace"], session["id"], "   ")
    with pytest.raises(UnknownConversation):
        await service.practice.session(people["grace"], 999999)
    with pytest.raises(Conflict):
        await service.practice.start(people["grace"], "billing")


async def test_practice_erasure_deletes_scenarios_and_keeps_the_scores(service: HandoffService,
                                                                       clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    await resolved_by_linus(service, people)
    session = await service.practice.start(people["grace"])
    await service.practice.reply(people["grace"], session["id"], "Within 30 days, unworn, full refund.")
    await service._log.customers.erase((await service._log.customers.find(email="jo.tester@example.com"))[0].customer_id)
    assert await service._log.practice.scenarios() == []
    kept = await service.practice.session(people["grace"], session["id"])
    assert kept["scenario_deleted"] and kept["replies"] == 1 and kept["turns_shown"][0]["customer"] is None
    with pytest.raises(Conflict):
        await service.practice.reply(people["grace"], session["id"], "more")
