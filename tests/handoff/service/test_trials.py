"""A/B trials of bot models in process (handoff/service/trials.py, handoff/core/trials.py): which model answers
whom, sticky per conversation; both arms compared from the ticket log; who may start and end a trial, and what.

The registry's own ``python -m bot.registry trial start|end`` runs for real (it is standard library only) with
no Rasa server to wait for; the servers' side (bot/candidate.py) is tested in tests/bot/test_candidate.py and
the whole loop in tests/handoff/e2e/test_models.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff.core.errors import BadRequest, NotAllowed
from handoff.core.trials import CANDIDATE, LIVE, ArmFact, Trial, arm_of, compare, planned_sample
from handoff.service.trials import REFRESH
from tests.conftest import ROOT
from tests.handoff.conftest import OpenService
from tests.handoff.service.test_models import BUILT, FAILED, PASSED, signed_in
from tests.handoff.service.test_models import registry as registry  # the fixture
from tests.handoff.world import Customer, FakeClock, FakeRasa

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"
TRIAL = "trial-20261125-140000"


@pytest.fixture
def profile() -> str:
    return "embedded"  # trials keep nothing in the store


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def running_trial(registry: Path, started_at: float, share: float = 0.5) -> Trial:
    """A trial of PASSED against BUILT as ``bot.registry trial start`` writes it."""
    data = {"id": TRIAL, "version": PASSED, "live": BUILT, "share": share, "started_at": iso(started_at),
            "started_by": "tess"}
    (registry / "trial.json").write_text(json.dumps(data))
    trial = Trial.from_json(data)
    assert trial is not None
    return trial


def test_arms_are_a_sticky_hash_of_trial_and_conversation_and_split_by_the_share() -> None:
    trial = Trial(TRIAL, PASSED, BUILT, 0.2, 1000.0, "tess")
    arms = [arm_of(trial, f"c_{n}", 1000.0 + n) for n in range(5000)]
    assert 0.18 < arms.count(CANDIDATE) / len(arms) < 0.22
    assert arms == [arm_of(trial, f"c_{n}", 1000.0 + n) for n in range(5000)]  # the same every time, anywhere
    assert arm_of(trial, "c_1", 999.0) == LIVE  # started before the trial: stays on the live model
    assert arm_of(None, "c_1", 2000.0) == LIVE
    other = Trial("trial-2", PASSED, BUILT, 0.2, 1000.0, "tess")  # another trial draws afresh
    assert [arm_of(other, f"c_{n}", 1001.0) for n in range(200)] != arms[:200]
    ended = Trial(TRIAL, PASSED, BUILT, 0.2, 1000.0, "tess", ended_at=3000.0)
    assert all(arm_of(ended, f"c_{n}", 3000.0) == LIVE for n in range(200))  # started after its end


def test_the_comparison_waits_for_the_planned_sample_then_says_which_is_better() -> None:
    trial = Trial(TRIAL, PASSED, BUILT, 0.5, 0.0, "tess")

    def facts(count: int, live_rate: float, candidate_rate: float) -> list[ArmFact]:
        out, seen = [], {LIVE: 0, CANDIDATE: 0}
        for n in range(count):
            conversation = f"c_{n}"
            arm = arm_of(trial, conversation, float(n))
            rate = live_rate if arm == LIVE else candidate_rate
            seen[arm] += 1
            handed = (seen[arm] % 100) < rate * 100
            out.append(ArmFact(conversation, float(n), handed, 2 if handed else 5))
        return out

    early = compare(trial, facts(200, 0.3, 0.1))
    assert early["verdict"] == "collecting" and early["handoff_test"]["p"] < 0.05  # significant, but not yet
    assert early["planned_per_arm"] == planned_sample(0.5, early["arms"][LIVE]["handoff_rate"])
    done = compare(trial, facts(4000, 0.3, 0.1))
    live, candidate = done["arms"][LIVE], done["arms"][CANDIDATE]
    assert live["conversations"] + candidate["conversations"] == 4000
    assert live["handoff_rate"] == pytest.approx(0.3, abs=0.01)
    assert candidate["containment_rate"] == pytest.approx(0.9, abs=0.01)
    assert done["handoff_test"]["high"] < 0 < 0.05 > done["handoff_test"]["p"]  # fewer hand-offs, for sure
    assert done["rating_test"]["difference"] > 0 and done["rating_test"]["p"] < 0.05
    assert done["verdict"] == "better"
    same = compare(trial, facts(4000, 0.3, 0.3))
    assert same["verdict"] == "no_difference" and same["handoff_test"]["p"] > 0.5
    assert compare(trial, facts(4000, 0.1, 0.3))["verdict"] == "worse"
    progress = done["progress"]
    assert len(progress) == 100 and progress[-1] == {"conversations": 4000, LIVE: live["handoff_rate"],
                                                     CANDIDATE: candidate["handoff_rate"]}
    assert [p["conversations"] for p in early["progress"]] == list(range(2, 201, 2))


async def test_new_conversations_go_to_their_arm_for_every_message(open_service: OpenService, registry: Path,
                                                                   clock: FakeClock, rasa: FakeRasa) -> None:
    service = await open_service(models_registry=registry)
    before = await Customer.start(service)
    clock.advance(60)
    trial = running_trial(registry, clock())
    customers = [await Customer.start(service) for _ in range(24)]
    for customer in [before, *customers]:
        await customer.say("hello")
        await customer.say("how much is shipping?")
    expected = {c.conversation_id: arm_of(trial, c.conversation_id, clock()) for c in customers}
    assert set(expected.values()) == {LIVE, CANDIDATE}
    heard = {sender: metadata for sender, _, metadata in rasa.heard}
    for conversation, arm in expected.items():
        assert rasa.candidate.count(conversation) == (2 if arm == CANDIDATE else 0)  # every message, one arm
        assert heard[conversation].get("model_arm") == (CANDIDATE if arm == CANDIDATE else None)
        assert heard[conversation].get("model_version") == (PASSED if arm == CANDIDATE else None)
    assert before.conversation_id not in rasa.candidate  # started before the trial: the live model
    (registry / "trial.json").unlink()  # ended (by another instance): the live model answers everyone
    await asyncio.sleep(REFRESH)
    [candidate] = [c for c in customers if expected[c.conversation_id] == CANDIDATE][:1]
    await candidate.say("hello again")
    assert rasa.candidate.count(candidate.conversation_id) == 2


async def test_the_results_count_each_arms_conversations_hand_offs_and_ratings(
        open_service: OpenService, registry: Path, clock: FakeClock) -> None:
    service = await open_service(models_registry=registry)
    tess = await signed_in(service, "tess")
    trial = running_trial(registry, clock(), share=0.5)
    handed: dict[str, int] = {LIVE: 0, CANDIDATE: 0}
    rated: dict[str, list[int]] = {LIVE: [], CANDIDATE: []}
    for n in range(16):
        customer = await Customer.start(service)
        arm = arm_of(trial, customer.conversation_id, clock())
        if n % 3 == 0:
            await customer.say("a person please")
            handed[arm] += 1
        else:
            await customer.say("how much is shipping?")
            await customer.say("thanks!")
            await service.feedback.rate(customer.conversation_id, 5 if arm == CANDIDATE else 3)
            rated[arm].append(5 if arm == CANDIDATE else 3)
        clock.advance(30)
    results = await service.trials.results(tess, None)
    assert results["trial"]["id"] == TRIAL and results["trial"]["running"]
    for arm in (LIVE, CANDIDATE):
        figures = results["arms"][arm]
        assert figures["handoffs"] == handed[arm] and figures["ratings"] == len(rated[arm])
        assert figures["conversations"] == handed[arm] + len(rated[arm])
    assert results["arms"][CANDIDATE]["rating_average"] == 5.0 and results["arms"][LIVE]["rating_average"] == 3.0
    assert results["verdict"] == "collecting" and results["smaller_arm"] < results["planned_per_arm"]
    assert (await service.trials.page(tess))["running"]["version"] == PASSED


async def test_starting_a_trial_needs_a_passing_candidate_a_fair_share_and_a_trainer(
        open_service: OpenService, registry: Path) -> None:
    service = await open_service(models_registry=registry, models_python=RASA_PYTHON, models_servers=("",))
    tess, admin, grace = [await signed_in(service, name) for name in ("tess", "admin", "grace")]
    for version, share, error in ((PASSED, 0.0, "share"), (PASSED, 0.6, "share"), (PASSED, float("nan"), "share"),
                                  ("20990101-000000-ffffffff", 0.2, "no model version"), (BUILT, 0.2, "live model"),
                                  (FAILED, 0.2, "did not pass the regression gate")):
        with pytest.raises(BadRequest, match=error):
            await service.trials.start(tess, version, share)
    with pytest.raises(NotAllowed, match="Only an admin"):
        await service.trials.start(tess, FAILED, 0.2, force=True)
    with pytest.raises(NotAllowed):
        await service.trials.start(grace, PASSED, 0.2)
    with pytest.raises(NotAllowed):
        await service.trials.page(grace)
    with pytest.raises(BadRequest, match="No A/B trial is running"):
        await service.trials.end(tess)

    page = await service.trials.start(tess, PASSED, 0.25)  # the registry's own command, no server to wait for
    assert page["running"]["version"] == PASSED and page["running"]["share"] == 0.25
    assert page["running"]["started_by"] == "tess" and page["running"]["live"] == BUILT
    with pytest.raises(BadRequest, match="end it first"):
        await service.trials.start(admin, FAILED, 0.1, force=True)
    ended = await service.trials.end(tess)
    assert ended["running"] is None
    [trial] = ended["ended"]
    assert (trial["version"], trial["ended_by"], trial["outcome"]) == (PASSED, "tess", "ended")
    results = await service.trials.results(tess, trial["id"])
    assert results["trial"]["id"] == trial["id"] and not results["trial"]["running"]
    with pytest.raises(BadRequest, match="no A/B trial"):
        await service.trials.results(tess, "trial-19990101-000000")


async def test_a_started_trial_is_seen_by_every_instance_within_a_second(
        open_service: OpenService, registry: Path, clock: FakeClock) -> None:
    one = await open_service(models_registry=registry)
    assert (await one.trials.arm(await (await Customer.start(one)).record())) == (LIVE, None)
    running_trial(registry, clock() - 1, share=0.5)  # started by another instance
    await asyncio.sleep(REFRESH)
    customers = [await Customer.start(one) for _ in range(12)]
    arms = {(await one.trials.arm(await c.record()))[0] for c in customers}
    assert arms == {LIVE, CANDIDATE}

