"""The knowledge workbench: which questions are gaps (a knowledge hand-off, a "not helpful" vote, a hand-off right
after a knowledge answer) with the agents' replies as the draft, grouping, dismissing; publishing (checked,
written, indexed, searchable at once), editing, merging and retiring; each article's use and staleness; who may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import frontmatter
import pytest

from handoff.core.errors import BadRequest, Conflict, NotAllowed, UnknownConversation
from handoff.service import HandoffService
from handoff.service.auth import Principal
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.library import library_copy
from tests.handoff.world import PASSWORD, Agent, Customer, FakeClock, FakeRasa, handoff_request

MARS = "do you ship to mars"


@pytest.fixture
def profile() -> str:
    return "embedded"  # the gaps are read from the ticket log, the same on both profiles


async def trainer(service: HandoffService) -> Principal:
    _, principal = await service.accounts.sign_in("tess", PASSWORD)
    return principal


def no_answer(rasa: FakeRasa, text: str) -> None:
    """The bot hands ``text`` off: no article answers it."""
    rasa.replies_to[text] = [{"recipient_id": "x", "text": "Let me pass you to a colleague."}, {
        "recipient_id": "x", "custom": {"handoff": handoff_request("x", text, code="no_answer", intent="nlu_fallback",
                                                                   confidence=0.3)}}]


def cited(rasa: FakeRasa, text: str, article_id: str = "shipping-options-and-costs") -> None:
    """The bot answers ``text`` from the article ``article_id`` (of the repository's knowledge base)."""
    citation = {"article_id": article_id, "version": "abc123", "title": "Shipping", "category": "shipping",
                "score": 0.8}
    rasa.replies_to[text] = [{"recipient_id": "x", "text": "Standard shipping is $4.95.",
                              "custom": {"citation": citation}}]


async def answered_by(service: HandoffService, agent: Agent, text: str, reply: str) -> Customer:
    customer = await Customer.start(service)
    await customer.say(text)
    await agent.inbox.next(of_type("assigned"))
    await agent.say(customer.conversation_id, reply)
    return customer


async def test_gaps_are_the_questions_the_knowledge_base_failed_with_the_agents_replies_as_draft(
        open_service: OpenService, rasa: FakeRasa, tmp_path: Path) -> None:
    service = await open_service(library=library_copy(tmp_path))
    no_answer(rasa, MARS)
    no_answer(rasa, "Do you deliver to Mars?")
    grace = await Agent.sign_in(service, "grace")
    await answered_by(service, grace, MARS, "Yes: we ship to Mars by rocket, $99, about 9 months.")
    asked = await Customer.start(service)
    await asked.say("Do you deliver to Mars?")  # nobody answered yet
    cited(rasa, "how much is shipping to Norway?")
    voted = await Customer.start(service)
    await voted.say("how much is shipping to Norway?")
    answer = next(m for m in await service.customers.history(voted.conversation_id) if m.sender == "bot")
    await service.feedback.vote(voted.conversation_id, answer.id, False)
    await Customer.start(service)  # a conversation the bot answered well: no gap

    page = await service.knowledge.gaps(await trainer(service))
    assert page["grouping"] == "encoder" and page["days"] == 90
    mars, norway = page["gaps"]
    assert mars["size"] == 2 and mars["reasons"] == {"no_answer": 2} and mars["articles"] == []
    assert sorted(q["text"] for q in mars["questions"]) == ["Do you deliver to Mars?", MARS]
    assert mars["draft"]["body"] == "Yes: we ship to Mars by rocket, $99, about 9 months."
    assert mars["draft"]["id"] in ("do-you-deliver-to-mars", "do-you-ship-to-mars")
    assert set(mars["draft"]["questions"]) == {"Do you deliver to Mars?", MARS}
    assert norway["reasons"] == {"not_helpful": 1} and norway["text"] == "how much is shipping to Norway?"
    assert norway["articles"] == [{"article_id": "shipping-options-and-costs", "count": 1}]
    assert norway["draft"]["category"] == "shipping" and norway["draft"]["body"] == ""


async def test_a_hand_off_right_after_a_knowledge_answer_is_a_gap_of_that_article(
        service: HandoffService) -> None:
    customer = await Customer.start(service)
    await customer.say("what does shipping cost to Iceland?")  # answered from shipping-costs
    await customer.say("that does not help, a person please")
    [gap] = (await service.knowledge.gaps(await trainer(service)))["gaps"]
    assert gap["text"] == "what does shipping cost to Iceland?"
    assert gap["reasons"] == {"handed_off_after_answer": 1}
    assert gap["articles"] == [{"article_id": "shipping-costs", "count": 1}]


async def test_a_dismissed_gap_leaves_and_stays_gone(service: HandoffService, rasa: FakeRasa) -> None:
    no_answer(rasa, MARS)
    await (await Customer.start(service)).say(MARS)
    tess = await trainer(service)
    [gap] = (await service.knowledge.gaps(tess))["gaps"]
    assert await service.knowledge.dismiss(tess, [q["message_id"] for q in gap["questions"]]) == {"dismissed": 1}
    assert (await service.knowledge.gaps(tess))["gaps"] == []
    with pytest.raises(UnknownConversation):
        await service.knowledge.dismiss(tess, [10**9])
    with pytest.raises(BadRequest):
        await service.knowledge.dismiss(tess, [])


async def test_publishing_from_a_gap_writes_the_article_and_the_index_answers_with_it(
        open_service: OpenService, rasa: FakeRasa, tmp_path: Path) -> None:
    library = library_copy(tmp_path)
    service = await open_service(library=library)
    no_answer(rasa, MARS)
    grace = await Agent.sign_in(service, "grace")
    await answered_by(service, grace, MARS, "Yes, by rocket.")
    tess = await trainer(service)
    [gap] = (await service.knowledge.gaps(tess))["gaps"]
    before = library.indexed().generation
    draft = {**gap["draft"], "id": "shipping-mars", "category": "shipping", "title": "Shipping to Mars",
             "body": "We ship to Mars by rocket for $99; delivery takes about nine months.",
             "tags": ["shipping", "mars"], "review_by": "2027-06-30"}
    published = await service.knowledge.publish(tess, draft, new=True, gap_ids=[gap["id"]])

    assert published["added"] == ["shipping-mars"] and published["generation"] == before + 1
    source = frontmatter.load(str(tmp_path / "sources" / "shipping" / "shipping-mars.md"))
    assert source["title"] == "Shipping to Mars" and source["review_by"] == "2027-06-30"
    assert source["questions"] == [MARS] and source.content.startswith("We ship to Mars by rocket")
    hit = library.indexed().search("can you send a parcel to Mars?")[0]
    assert (hit.article_id, hit.version) == ("shipping-mars", published["version"])
    assert (await service.knowledge.gaps(tess))["gaps"] == []  # answered

    edited = await service.knowledge.publish(tess, {**draft, "body": "We ship to Mars for $120."}, new=False)
    assert edited["changed"] == ["shipping-mars"] and edited["version"] != published["version"]
    assert library.indexed().search("parcel to Mars")[0].version == edited["version"]

    retired = await service.knowledge.retire(tess, "shipping-mars")
    assert retired["retired"] == ["shipping-mars"]
    assert not (tmp_path / "sources" / "shipping" / "shipping-mars.md").exists()
    assert all(h.article_id != "shipping-mars" for h in library.indexed().search("parcel to Mars"))


@pytest.mark.parametrize(("change", "error"), [
    ({"id": "../etc"}, "The id is 3-80 characters"),
    ({"id": "Shipping Mars"}, "The id is 3-80 characters"),
    ({"category": "../../models"}, "The category is 2-32 characters"),
    ({"title": "  "}, "The title is empty"),
    ({"body": "x" * 20_001}, "The body is longer than 20,000 characters"),
    ({"review_by": "next year"}, "The review-by date is a date"),
    ({"tags": ["a tag"]}, "A tag is up to 32 characters"),
    ({"questions": ["q"] * 21}, "The questions are a list of at most 20"),
])
async def test_an_invalid_article_is_refused_with_a_sentence(
        open_service: OpenService, tmp_path: Path, change: dict[str, Any], error: str) -> None:
    service = await open_service(library=library_copy(tmp_path))
    article = {"id": "gift-wrap-colours", "category": "orders", "title": "Gift wrap colours",
               "body": "Red or green.", **change}
    with pytest.raises(BadRequest, match=error):
        await service.knowledge.publish(await trainer(service), article, new=True)
    assert not list((tmp_path / "sources").rglob("gift-wrap-colours.md"))


async def test_ids_and_roles_are_checked(open_service: OpenService, tmp_path: Path) -> None:
    service = await open_service(library=library_copy(tmp_path))
    tess = await trainer(service)
    taken = {"id": "shipping-options-and-costs", "category": "shipping", "title": "Shipping", "body": "Free."}
    with pytest.raises(Conflict):
        await service.knowledge.publish(tess, taken, new=True)
    with pytest.raises(UnknownConversation):
        await service.knowledge.publish(tess, {**taken, "id": "no-such-article"}, new=False)
    with pytest.raises(UnknownConversation):
        await service.knowledge.retire(tess, "no-such-article")
    grace = (await Agent.sign_in(service, "grace")).principal
    for call in (service.knowledge.gaps(grace), service.knowledge.articles(grace),
                 service.knowledge.publish(grace, taken, new=False), service.knowledge.retire(grace, "shipping-tracking")):
        with pytest.raises(NotAllowed):
            await call


async def test_a_new_category_is_a_new_folder_and_a_changed_category_moves_the_file(
        open_service: OpenService, tmp_path: Path) -> None:
    service = await open_service(library=library_copy(tmp_path))
    tess = await trainer(service)
    article = await service.knowledge.article(tess, "orders-gift-wrapping")
    await service.knowledge.publish(tess, {**article, "category": "gifts"}, new=False)
    assert (tmp_path / "sources" / "gifts" / "orders-gift-wrapping.md").exists()
    assert not (tmp_path / "sources" / "orders" / "orders-gift-wrapping.md").exists()
    assert "gifts" in (await service.knowledge.articles(tess))["categories"]


async def test_the_review_counts_answers_votes_and_hand_offs_after_and_lists_stale_and_duplicates(
        open_service: OpenService, rasa: FakeRasa, tmp_path: Path) -> None:
    service = await open_service(library=library_copy(tmp_path), knowledge_stale_days=200)
    tess = await trainer(service)
    cited(rasa, "what does shipping cost?")
    cited(rasa, "shipping to Iceland?")
    for helpful in (True, False, True):
        customer = await Customer.start(service)
        await customer.say("what does shipping cost?")
        answer = next(m for m in await service.customers.history(customer.conversation_id) if m.sender == "bot")
        await service.feedback.vote(customer.conversation_id, answer.id, helpful)
    handed = await Customer.start(service)
    await handed.say("shipping to Iceland?")
    await handed.say("a person please")

    review = await service.knowledge.articles(tess)
    rows = {row["id"]: row for row in review["articles"]}
    shipping = rows["shipping-options-and-costs"]
    assert (shipping["answers"], shipping["votes"], shipping["helpful"]) == (4, 3, 2)
    assert shipping["helpful_rate"] == 0.667 and shipping["handoffs_after"] == 1
    assert shipping["indexed_version"] is not None
    assert rows["orders-cancel"]["answers"] == 0 and rows["orders-cancel"]["helpful_rate"] is None
    # the clock is 2026-11-25: an article updated 2026-02-03 is 295 days old, over the 200 allowed
    assert rows["accounts-password-reset-old"]["stale"] == "not_updated"
    assert {"first": "accounts-password-reset", "second": "accounts-password-reset-old"} in [
        {k: p[k] for k in ("first", "second")} for p in review["duplicates"]]
    assert "accounts-password-reset-old" in rows["accounts-password-reset"]["duplicates"]

    await service.knowledge.publish(tess, {**await service.knowledge.article(tess, "orders-cancel"),
                                           "review_by": "2026-11-01"}, new=False)
    rows = {row["id"]: row for row in (await service.knowledge.articles(tess))["articles"]}
    assert rows["orders-cancel"]["stale"] == "review_by" and rows["orders-cancel"]["review_by"] == "2026-11-01"


async def test_a_merge_keeps_one_with_both_questions_and_retires_the_other(
        open_service: OpenService, tmp_path: Path) -> None:
    library = library_copy(tmp_path)
    service = await open_service(library=library)
    tess = await trainer(service)
    gone = await service.knowledge.article(tess, "accounts-password-reset-old")
    merged = await service.knowledge.merge(tess, "accounts-password-reset", "accounts-password-reset-old")
    assert merged["kept"] == "accounts-password-reset" and merged["retired"] == "accounts-password-reset-old"
    kept = await service.knowledge.article(tess, "accounts-password-reset")
    assert gone["title"] in kept["questions"] and set(gone["questions"]) <= set(kept["questions"])
    assert "accounts-password-reset-old" not in library.indexed().store
    with pytest.raises(UnknownConversation):
        await service.knowledge.article(tess, "accounts-password-reset-old")


async def test_without_a_library_the_workbench_says_it_is_off(service: HandoffService) -> None:
    from handoff.core.errors import UpstreamUnavailable

    with pytest.raises(UpstreamUnavailable, match="knowledge workbench is off"):
        await service.knowledge.articles(await trainer(service))


async def test_erasure_and_retention_delete_the_decisions_on_a_customer_s_questions(
        open_service: OpenService, rasa: FakeRasa, clock: FakeClock) -> None:
    service = await open_service(retention_days=30)
    no_answer(rasa, MARS)
    no_answer(rasa, "Do you ship to Venus?")
    erased, old = await Customer.start(service), await Customer.start(service)
    await erased.say(MARS)
    await old.say("Do you ship to Venus?")
    tess = await trainer(service)
    ids = [q["message_id"] for g in (await service.knowledge.gaps(tess))["gaps"] for q in g["questions"]]
    assert await service.knowledge.dismiss(tess, ids) == {"dismissed": 2}
    assert len(await service._log.knowledge.decided()) == 2
    await service.data.delete(conversation_id=erased.conversation_id)
    assert len(await service._log.knowledge.decided()) == 1
    clock.advance(31 * 86400)
    await service.data.retention()
    assert await service._log.knowledge.decided() == {}


async def test_a_question_id_past_the_database_s_integers_is_refused(service: HandoffService) -> None:
    with pytest.raises(BadRequest):  # PostgreSQL's 32-bit ids: a larger one would fail in the database
        await service.knowledge.dismiss(await trainer(service), [2**40])
