"""QA review in process, on both profiles: the sample drawn from a known history, reviews scored and kept with
their scorecard, the roll-up per agent, who may do what, and the follow-up items' lifecycle."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from handoff.core.errors import BadRequest, Conflict, NotAllowed, UnknownConversation
from handoff.core.scorecard import Score
from handoff.service import HandoffService
from handoff.service.auth import Principal
from tests.handoff.conftest import OpenService
from tests.handoff.qa_history import handled_ticket, rated
from tests.handoff.world import T0, Agent, FakeClock

DAY = 86400.0
SINCE, UNTIL = T0.isoformat(), "2026-11-26T14:00:00+00:00"
PERFECT = [Score("greeting", 2), Score("accuracy", 5), Score("tone", 5), Score("resolution", 5),
           Score("notes", 2), Score("data_protection", 1)]


def marks(greeting: int, accuracy: int, tone: int, resolution: int, notes: int | None,
          data_protection: int | None) -> list[Score]:
    return [Score("greeting", greeting, "said hello"), Score("accuracy", accuracy), Score("tone", tone),
            Score("resolution", resolution), Score("notes", notes), Score("data_protection", data_protection)]


async def principals(service: HandoffService) -> dict[str, Principal]:
    return {name: (await Agent.sign_in(service, name)).principal for name in ("ada", "grace", "linus", "admin")}


async def history(service: HandoffService, people: dict[str, Principal]) -> dict[str, int]:
    """Grace's and Linus's closed tickets of the day after T0 (one of each very long), Grace's rated 1, one of
    Linus's rated 2 but reviewed already; one ticket closed the day before, one still open."""
    log, tickets = service._log, {}
    handles = {"grace": [100, 200, 300, 400, 500, 4000], "linus": [110, 210, 310, 410, 510, 5000]}
    at = T0.timestamp() + 60
    for name, seconds in handles.items():
        for handle in seconds:
            tickets[f"{name}-{handle}"] = await handled_ticket(log, people[name].agent_id, at=at, handle=handle)
            at += 600
    tickets["before"] = await handled_ticket(log, people["grace"].agent_id, at=T0.timestamp() - DAY, handle=100)
    tickets["before-rating"] = await rated(log, tickets["before"], 1, at=T0.timestamp() - DAY + 500) or 0
    tickets["low-rating"] = await rated(log, tickets["grace-200"], 1, "Nobody read my message", at=at) or 0
    await rated(log, tickets["linus-310"], 4, at=at)
    await rated(log, tickets["linus-410"], 2, at=at)
    await service.quality.review(people["ada"], tickets["linus-410"], PERFECT)
    return tickets


async def test_quality_the_sample_has_low_ratings_long_handles_and_a_fair_random_draw(service: HandoffService,
                                                                                     clock: FakeClock) -> None:
    clock.advance(2 * DAY)
    people = await principals(service)
    tickets = await history(service, people)
    drawn = await service.quality.sample(people["ada"], since=SINCE, until=UNTIL, size=4, seed=7)
    by_id = {item["ticket_id"]: item for item in drawn["sample"]}
    assert (drawn["handled"], drawn["reviewed"], drawn["seed"]) == (12, 1, 7)
    assert by_id[tickets["grace-200"]]["reasons"] == ["low_rating"]
    assert by_id[tickets["grace-200"]]["lowest_rating"] == 1
    # the 90th percentile of the 12 handle times is 3651 s: the two long ones
    assert by_id[tickets["grace-4000"]]["reasons"] == ["long_handle"]
    assert by_id[tickets["linus-5000"]]["reasons"] == ["long_handle"]
    assert by_id[tickets["grace-4000"]]["handle_seconds"] == 4000
    randoms = [item for item in drawn["sample"] if item["reasons"] == ["random"]]
    assert Counter(item["agent_name"] for item in randoms) == {"Grace Hopper": 2, "Linus Berg": 2}
    assert len(drawn["sample"]) == 7
    assert tickets["linus-410"] not in by_id  # reviewed already, though rated 2
    assert tickets["before"] not in by_id  # closed before the period
    assert [item["reasons"][0] for item in drawn["sample"]][:3] == ["low_rating", "long_handle", "long_handle"]

    again = await service.quality.sample(people["ada"], since=SINCE, until=UNTIL, size=4, seed=7)
    assert again["sample"] == drawn["sample"]
    others = [await service.quality.sample(people["ada"], since=SINCE, until=UNTIL, size=4, seed=seed)
              for seed in range(1, 6)]
    assert any(other["sample"] != drawn["sample"] for other in others)
    everything = await service.quality.sample(people["ada"], since=SINCE, until=UNTIL, size=100, seed=1)
    assert len(everything["sample"]) == 11  # every handled ticket of the period but the reviewed one, once each


async def test_quality_a_few_tickets_have_no_long_handle_reason(service: HandoffService, clock: FakeClock) -> None:
    people = await principals(service)
    for handle in (100, 9000):
        await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 60, handle=handle)
    clock.advance(DAY)
    drawn = await service.quality.sample(people["ada"], since=SINCE, until=UNTIL, size=0, seed=1)
    assert drawn["sample"] == []  # under 10 handled tickets, a 90th percentile says nothing


async def test_quality_sample_input_errors(service: HandoffService) -> None:
    people = await principals(service)
    for options, message in (({"size": 101}, "0 to 100"), ({"since": "yesterday"}, "since must be an ISO 8601"),
                             ({"since": UNTIL, "until": SINCE}, "since must be before until"),
                             ({"since": "2020-01-01", "until": "2026-01-01"}, "at most 366 days")):
        with pytest.raises(BadRequest, match=message):
            await service.quality.sample(people["ada"], **options)  # type: ignore[arg-type]


async def test_quality_a_review_is_scored_kept_and_edited(service: HandoffService, clock: FakeClock) -> None:
    people = await principals(service)
    ticket = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 60, handle=300)
    review = await service.quality.review(people["ada"], ticket, marks(1, 4, 3, 5, None, 1), "Good save.")
    # greeting 1/2 (w1) + accuracy 3/4 (w3) + tone 2/4 (w2) + resolution 4/4 (w3) + data protection 1 (w1), over 10
    assert review["total"] == 77.5
    assert (review["agent_id"], review["reviewer_id"]) == (people["grace"].agent_id, people["ada"].agent_id)
    assert review["scorecard_version"] == "2026-12-1"
    assert review["scores"][0] == {"criterion": "greeting", "score": 1, "comment": "said hello"}
    assert review["scores"][4] == {"criterion": "notes", "score": None, "comment": ""}
    edited = await service.quality.review(people["ada"], ticket, marks(2, 5, 5, 5, 2, 0), "Shared an order.")
    assert (edited["id"], edited["total"], edited["critical_failed"]) == (review["id"], 0.0, ["data_protection"])
    await service.quality.review(people["admin"], ticket, PERFECT)
    seen = await service.quality.ticket(people["ada"], ticket)
    assert sorted(r["total"] for r in seen["reviews"]) == [0.0, 100.0]
    assert seen["mine"]["notes"] == "Shared an order."
    assert [m["text"] for m in seen["ticket"]["messages"]] == ["Where is my parcel?", "It ships today."]
    assert len(seen["scorecard"]["criteria"]) == 6


async def test_quality_review_refusals(service: HandoffService) -> None:
    people = await principals(service)
    mine = await handled_ticket(service._log, people["ada"].agent_id, at=T0.timestamp(), handle=60)
    theirs = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp(), handle=60)
    with pytest.raises(NotAllowed, match="of your own"):
        await service.quality.review(people["ada"], mine, PERFECT)
    with pytest.raises(NotAllowed, match="Only supervisors review"):
        await service.quality.review(people["linus"], theirs, PERFECT)
    with pytest.raises(NotAllowed, match="Only supervisors review"):
        await service.quality.sample(people["grace"])
    with pytest.raises(UnknownConversation):
        await service.quality.review(people["ada"], 999_999, PERFECT)
    with pytest.raises(UnknownConversation):
        await service.quality.ticket(people["ada"], 2**40)
    with pytest.raises(BadRequest, match="scored from 1 to 5, not 6"):
        await service.quality.review(people["ada"], theirs, marks(2, 6, 5, 5, 2, 1))
    assert await service.quality.reviews(people["ada"], agent_id=people["grace"].agent_id, since=SINCE,
                                         until=UNTIL) == []


async def test_quality_scores_roll_up_per_agent(service: HandoffService, clock: FakeClock) -> None:
    people = await principals(service)
    grace, linus = people["grace"].agent_id, people["linus"].agent_id
    first = await handled_ticket(service._log, grace, at=T0.timestamp() + 60, handle=300)
    second = await handled_ticket(service._log, grace, at=T0.timestamp() + 900, handle=300)
    third = await handled_ticket(service._log, linus, at=T0.timestamp() + 900, handle=300)
    late = await handled_ticket(service._log, linus, at=T0.timestamp() + 2 * DAY, handle=300)
    await service.quality.review(people["ada"], first, PERFECT)  # 100
    await service.quality.review(people["ada"], second, marks(0, 1, 1, 1, None, None))  # 0
    await service.quality.review(people["admin"], second, marks(2, 3, 3, 3, 1, 1))  # 1+1.5+1+1.5+0.5+1 = 6.5/11
    await service.quality.review(people["ada"], third, marks(2, 5, 5, 5, 2, 0))  # critical: 0
    await service.quality.review(people["ada"], late, PERFECT)  # closed after the period
    clock.advance(3 * DAY)
    rolled = await service.quality.scores(people["ada"], since=SINCE, until=UNTIL)
    rows = {row["agent_name"]: row for row in rolled["agents"]}
    assert list(rows) == ["Grace Hopper", "Linus Berg"]
    assert (rows["Grace Hopper"]["reviews"], rows["Grace Hopper"]["average"]) == (3, 53.03)  # (100 + 0 + 59.09) / 3
    assert rows["Grace Hopper"]["criteria"]["greeting"] == pytest.approx(200 / 3, abs=0.01)  # 100, 0, 100
    assert rows["Grace Hopper"]["criteria"]["notes"] == 75.0  # 100 and 50; one N/A left out
    assert rows["Grace Hopper"]["critical_failures"] == 0
    assert (rows["Linus Berg"]["reviews"], rows["Linus Berg"]["average"]) == (1, 0.0)
    assert rows["Linus Berg"]["critical_failures"] == 1
    assert rolled["team"]["reviews"] == 4 and rolled["team"]["average"] == pytest.approx(159.09 / 4, abs=0.01)
    assert [c["key"] for c in rolled["criteria"]][:2] == ["greeting", "accuracy"]

    own = await service.quality.scores(people["grace"], since=SINCE, until=UNTIL)
    assert [row["agent_name"] for row in own["agents"]] == ["Grace Hopper"]
    assert len(await service.quality.reviews(people["grace"], since=SINCE, until=UNTIL)) == 3
    with pytest.raises(NotAllowed, match="your own reviews"):
        await service.quality.reviews(people["grace"], agent_id=linus, since=SINCE, until=UNTIL)


async def test_quality_old_reviews_keep_their_scorecard(open_service: OpenService, clock: FakeClock,
                                                        tmp_path: Path) -> None:
    service = await open_service()
    people = await principals(service)
    ticket = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 60, handle=300)
    await service.quality.review(people["ada"], ticket, marks(2, 5, 5, 5, 2, 1))
    await service.close()
    card = tmp_path / "card.yml"
    card.write_text("version: v2\ncriteria:\n  - {key: empathy, name: Empathy, weight: 1, scale: 1-5}\n")
    service = await open_service(scorecard_config=card)
    later = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 900, handle=300)
    await service.quality.review(people["ada"], later, [Score("empathy", 3)])
    clock.advance(DAY)
    reviews = {r["ticket_id"]: r for r in await service.quality.reviews(people["ada"], since=SINCE, until=UNTIL)}
    assert reviews[ticket]["scorecard_version"] == "2026-12-1"
    assert reviews[ticket]["scorecard"]["criteria"][0]["key"] == "greeting"
    assert (reviews[later]["scorecard_version"], reviews[later]["total"]) == ("v2", 50.0)
    rolled = await service.quality.scores(people["ada"], since=SINCE, until=UNTIL)
    assert [c["key"] for c in rolled["criteria"]][:2] == ["empathy", "greeting"]
    assert rolled["agents"][0]["criteria"] == {"empathy": 50.0, "greeting": 100.0, "accuracy": 100.0, "tone": 100.0,
                                              "resolution": 100.0, "notes": 100.0, "data_protection": 100.0}
    assert rolled["agents"][0]["average"] == 75.0


def summary(item: dict[str, Any]) -> tuple[Any, ...]:
    return item["status"], item["assignee_name"], item["note"], [n["text"] for n in item["notes"]]


async def test_quality_follow_up_lifecycle(service: HandoffService, clock: FakeClock) -> None:
    people = await principals(service)
    ada, admin = people["ada"], people["admin"]
    ticket = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 60, handle=300)
    item_id = await rated(service._log, ticket, 1, "Nobody read my message", at=T0.timestamp() + 900)
    assert item_id is not None
    listed = await service.follow_ups.list(ada, status="open")
    assert [item["id"] for item in listed] == [item_id]
    assert listed[0]["feedback"]["score"] == 1 and listed[0]["feedback"]["comment"] == "Nobody read my message"
    assert listed[0]["feedback"]["agent_name"] == "Grace Hopper"
    assert (listed[0]["ticket_id"], listed[0]["reason"]) == (ticket, "low_rating")
    assert listed[0]["ticket_number"] == f"T-{ticket:06d}"

    item = await service.follow_ups.assign(ada, item_id, ada.agent_id)
    assert summary(item) == ("open", "Ada Lovelace", None, [])
    assert [i["id"] for i in await service.follow_ups.list(ada, assignee="me")] == [item_id]
    assert await service.follow_ups.list(admin, assignee="me") == []
    assert await service.follow_ups.list(ada, assignee="none") == []
    with pytest.raises(BadRequest, match="active supervisor or admin"):
        await service.follow_ups.assign(ada, item_id, people["grace"].agent_id)
    clock.advance(60)
    item = await service.follow_ups.note(admin, item_id, "Called the customer back.")
    assert item["notes"][0]["author_name"] == "Site Admin"
    item = await service.follow_ups.close(ada, item_id, "Refund sent; coached Grace.")
    assert summary(item) == ("done", "Ada Lovelace", "Refund sent; coached Grace.",
                             ["Called the customer back.", "Refund sent; coached Grace."])
    assert item["closed_at"] is not None
    with pytest.raises(Conflict, match="closed already"):
        await service.follow_ups.close(ada, item_id)
    assert await service.follow_ups.list(ada, status="open") == []
    assert [i["id"] for i in await service.follow_ups.list(ada, status="done")] == [item_id]
    reopened = await service.follow_ups.reopen(ada, item_id)
    assert (reopened["status"], reopened["closed_at"]) == ("open", None)

    with pytest.raises(NotAllowed, match="Only supervisors handle follow-ups"):
        await service.follow_ups.list(people["grace"])
    with pytest.raises(UnknownConversation):
        await service.follow_ups.get(ada, item_id + 1000)
    with pytest.raises(BadRequest, match="open or done"):
        await service.follow_ups.list(ada, status="closed")
    with pytest.raises(BadRequest, match="A note is 1 to"):
        await service.follow_ups.note(ada, item_id, "   ")


async def test_quality_reviews_go_with_their_conversation(service: HandoffService, clock: FakeClock) -> None:
    """Erasing the customer blanks what reviewers wrote (the scores stay); retention deletes the reviews."""
    people = await principals(service)
    ticket = await handled_ticket(service._log, people["grace"].agent_id, at=T0.timestamp() + 60, handle=300)
    await service.quality.review(people["ada"], ticket, marks(2, 5, 5, 5, 2, 1), "Told Jo Smith about it.")
    customer = (await service._log.tickets.ticket(ticket)).customer_id  # type: ignore[union-attr]
    await service._log.customers.erase(customer)
    kept = (await service.quality.ticket(people["ada"], ticket))["mine"]
    assert (kept["notes"], kept["scores"][0]["comment"], kept["total"]) == ("", "", 100.0)
    deleted, _ = await service._log.customers.delete_older_than(T0.timestamp() + 30 * DAY)
    assert deleted
    assert await service.quality.reviews(people["ada"], since="2026-11-01", until="2026-12-01") == []
