"""The NLU inbox: what lands in it (fallback, ambiguous, handed off, not helpful, an agent's category) with the
model's intents, how near-duplicates are grouped, the trainers' decisions one by one and in bulk, the training
data file they write (Rasa's format, stable, reviewable), who may, and what erasure and retention do to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from handoff.core.errors import BadRequest, NotAllowed, UnknownConversation
from handoff.core.model import AgentId, Presence, Role
from handoff.service import HandoffService
from handoff.service.auth import Principal
from tests.conftest import ROOT
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.world import PASSWORD, SUPERVISOR, Agent, Customer, FakeClock, FakeRasa, handoff_request

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"


async def trainer(service: HandoffService) -> Principal:
    """Tess, the demo team's trainer, signed in (a trainer's console opens no agent socket)."""
    _, principal = await service.accounts.sign_in("tess", PASSWORD)
    return principal


async def items(service: HandoffService, who: Principal, status: str = "new") -> list[dict[str, Any]]:
    page = await service.inbox.page(who, status)
    return [item for group in page["groups"] for item in group["items"]]


async def said(service: HandoffService, *texts: str) -> Customer:
    customer = await Customer.start(service)
    for text in texts:
        await customer.say(text)
    return customer


async def test_a_fallback_lands_with_the_models_top_intents_and_a_sure_message_does_not(
        service: HandoffService) -> None:
    tess = await trainer(service)
    await said(service, "hello", "zqx flurb my thingy")
    [item] = await items(service, tess)
    assert item["text"] == "zqx flurb my thingy"
    assert item["reasons"] == ["fallback", "ambiguous"]  # nlu_fallback won; the top two 0.03 apart
    assert item["intents"] == [{"name": "ask_shipping", "confidence": 0.31}, {"name": "order_status", "confidence": 0.28}]
    assert item["status"] == "new" and "conversation_id" not in item and "message_id" not in item


async def test_two_intents_within_the_margin_are_ambiguous(open_service: OpenService, rasa: FakeRasa) -> None:
    service = await open_service(inbox_margin=0.1, inbox_min_confidence=0.5)
    rasa.rankings["hello can I swap it"] = [("exchange_item", 0.55), ("return_policy", 0.5), ("greet", 0.1)]
    rasa.rankings["hello there"] = [("greet", 0.7), ("goodbye", 0.55)]  # 0.15 apart: sure enough
    await said(service, "hello can I swap it", "hello there")
    [item] = await items(service, await trainer(service))
    assert (item["text"], item["reasons"]) == ("hello can I swap it", ["ambiguous"])
    assert [i["name"] for i in item["intents"]] == ["exchange_item", "return_policy", "greet"]


async def test_a_hand_off_about_understanding_lands_and_a_request_for_a_person_does_not(
        service: HandoffService, rasa: FakeRasa) -> None:
    text = "my whatsit from the thing broke"
    rasa.replies_to[text] = [{"recipient_id": "x", "text": "A colleague will help."}, {
        "recipient_id": "x", "custom": {"handoff": handoff_request("x", text, code="low_nlu_confidence",
                                                                   intent="product_defect", confidence=0.41)}}]
    rasa.rankings[text] = [("product_defect", 0.41), ("return_policy", 0.2)]
    await said(service, text)
    await said(service, "a person please")
    [item] = await items(service, await trainer(service))
    assert item["text"] == text and item["reasons"] == ["fallback", "handed_off"]
    assert item["intents"][0] == {"name": "product_defect", "confidence": 0.41}


async def test_a_not_helpful_answer_sends_its_question_with_the_intents_it_was_given(service: HandoffService) -> None:
    customer = await said(service, "how much is shipping to Norway?")
    answer = next(m for m in await service.customers.history(customer.conversation_id) if m.sender == "bot")
    await service.feedback.vote(customer.conversation_id, answer.id, False)
    [item] = await items(service, await trainer(service))
    assert item["text"] == "how much is shipping to Norway?" and item["reasons"] == ["not_helpful"]
    assert item["intents"] == [{"name": "ask_shipping", "confidence": 0.95}]


async def test_an_agents_category_sends_the_handed_off_message_with_a_hint(service: HandoffService) -> None:
    grace = await Agent.sign_in(service, "grace")
    customer = await said(service, "I need a person about the blender I sent back")
    await grace.inbox.next(of_type("assigned"))
    record = await customer.record()
    assert record.ticket_id is not None
    await service.helpdesk.edit_ticket(grace.principal, record.ticket_id, category="returns")
    await service.helpdesk.edit_ticket(grace.principal, record.ticket_id, category="returns")  # unchanged: once
    [item] = await items(service, await trainer(service))
    assert item["text"] == "I need a person about the blender I sent back"
    assert item["reasons"] == ["agent_category"] and item["hint"] == {"category": "returns", "bot_category": None}
    assert item["intents"] == [{"name": "request_human", "confidence": 0.97}]


async def test_near_duplicates_are_grouped_by_meaning(service: HandoffService, rasa: FakeRasa) -> None:
    texts = ["where on earth is my parcel", "can I pay with bitcoin", "Where is my parcel???",
             "where's my parcel gone", "can I pay using bitcoin?", "can I pay with paypal"]
    for text in texts:
        rasa.rankings[text] = [("delivery_tracking", 0.3), ("order_status", 0.29)]
    await said(service, *texts)
    page = await service.inbox.page(await trainer(service))
    assert page["grouping"] == "encoder" and page["counts"]["new"] == 6
    assert [[i["text"] for i in g["items"]] for g in page["groups"]] == [  # largest first, then the oldest
        [texts[0], texts[2], texts[3]], [texts[1], texts[4]], [texts[5]]]  # paypal is no bitcoin (0.71)
    assert page["groups"][0]["size"] == 3 and page["groups"][0]["reasons"] == {"ambiguous": 3, "fallback": 3}
    assert page["groups"][0]["intents"][0] == {"name": "delivery_tracking", "confidence": 0.3, "seen": 3}


async def test_without_the_encoder_the_normalised_text_groups(open_service: OpenService, tmp_path: Path) -> None:
    service = await open_service(insights_encoder=tmp_path / "no-encoder")
    await said(service, "Where is order 12345?", "where is order 678", "zqx flurb")
    page = await service.inbox.page(await trainer(service))
    assert page["grouping"] == "text"
    assert [[i["text"] for i in g["items"]] for g in page["groups"]] == [
        ["Where is order 12345?", "where is order 678"], ["zqx flurb"]]


async def test_labels_out_of_scope_and_dismissals_write_sorted_rasa_training_data(
        open_service: OpenService, tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "shipping.yml").write_text(textwrap.dedent("""\
        version: "3.1"
        nlu:
        - intent: shipping_options
          examples: |
            - zqx ship it
        """))
    service = await open_service(inbox_file=nlu / "inbox.yml")
    await said(service, "zqx fling it [fast](speed)", "zqx ship it", "Zqx  swap\tthe red one",
               "zqx lasagne recipe", "zqx asdf", "zqx aaa swap the red one")
    tess = await trainer(service)
    ids = {i["text"]: i["id"] for i in await items(service, tess)}

    result = await service.inbox.decide(tess, [ids["Zqx  swap\tthe red one"], ids["zqx aaa swap the red one"]],
                                        "label", "exchange_item")
    assert result["decided"] == 2 and result["new_intent"] is False and result["file"]["written"] is True
    await service.inbox.decide(tess, [ids["zqx fling it [fast](speed)"]], "label", "shipping_speed")
    await service.inbox.decide(tess, [ids["zqx ship it"]], "label", "order_status")  # another file: shipping_options
    await service.inbox.decide(tess, [ids["zqx lasagne recipe"]], "out_of_scope")
    dismissed = await service.inbox.decide(tess, [ids["zqx asdf"]], "dismiss")
    assert dismissed["file"]["written"] is False  # a dismissal writes nothing new
    assert dismissed["conflicts"] == [{"text": "zqx ship it", "intent": "order_status",
                                       "elsewhere": "shipping_options"}]
    assert (nlu / "inbox.yml").read_text().split("\n", 2)[2] == textwrap.dedent("""\
        version: "3.1"
        nlu:
        - intent: exchange_item
          examples: |
            - zqx aaa swap the red one
            - Zqx swap the red one
        - intent: out_of_scope
          examples: |
            - zqx lasagne recipe
        - intent: shipping_speed
          examples: |
            - zqx fling it (fast)(speed)
        """)
    assert (nlu / "shipping.yml").read_text().endswith("- zqx ship it\n")  # no other file is rewritten
    assert await items(service, tess) == []
    assert [i["text"] for i in await items(service, tess, "dismissed")] == ["zqx asdf"]
    labelled = await items(service, tess, "labelled")
    assert {i["intent"] for i in labelled} == {"exchange_item", "shipping_speed", "order_status"}
    assert all(i["decided_by"] == tess.agent_id for i in labelled)

    reopened = await service.inbox.decide(tess, [ids["zqx fling it [fast](speed)"]], "reopen")
    assert reopened["file"]["written"] is True and "shipping_speed" not in (nlu / "inbox.yml").read_text()
    assert [i["text"] for i in await items(service, tess)] == ["zqx fling it [fast](speed)"]
    again = await service.inbox.decide(tess, [ids["zqx lasagne recipe"]], "out_of_scope")
    assert again["file"]["written"] is False  # the same bytes: the file is not touched


async def test_a_new_intent_is_flagged_and_bad_decisions_are_refused(service: HandoffService) -> None:
    await said(service, "zqx gift wrap please")
    tess = await trainer(service)
    [item] = await items(service, tess)
    intents = {i["name"]: i for i in (await service.inbox.intents(tess))["intents"]}
    assert intents["order_status"]["in_domain"] and "nlu_fallback" not in intents and "gift_wrap" not in intents
    result = await service.inbox.decide(tess, [item["id"]], "label", "gift_wrap")
    assert result["new_intent"] is True
    assert (await service.inbox.intents(tess))["intents"][[i["name"] for i in (
        await service.inbox.intents(tess))["intents"]].index("gift_wrap")] == {
        "name": "gift_wrap", "in_domain": False, "labelled": 1}
    for bad in ("Gift Wrap", "nlu_fallback", "", None):
        with pytest.raises(BadRequest):
            await service.inbox.decide(tess, [item["id"]], "label", bad)
    with pytest.raises(BadRequest, match="label, out_of_scope"):
        await service.inbox.decide(tess, [item["id"]], "approve")
    with pytest.raises(BadRequest):
        await service.inbox.decide(tess, [], "dismiss")
    with pytest.raises(UnknownConversation, match="no inbox item 999999"):
        await service.inbox.decide(tess, [item["id"], 999999], "dismiss")
    with pytest.raises(BadRequest, match="status"):
        await service.inbox.page(tess, "everything")


async def test_only_trainers_supervisors_and_admins_use_the_inbox(service: HandoffService) -> None:
    await said(service, "zqx gift wrap please")
    grace = await Agent.sign_in(service, "grace")
    with pytest.raises(NotAllowed, match="Only trainers see"):
        await service.inbox.page(grace.principal)
    with pytest.raises(NotAllowed, match="Only trainers label"):
        await service.inbox.decide(grace.principal, [1], "dismiss")
    admin = Principal(AgentId("a_admin"), "root", "Root", Role.ADMIN)
    [item] = await items(service, SUPERVISOR)
    assert (await service.inbox.decide(admin, [item["id"]], "dismiss"))["decided"] == 1


async def test_a_trainer_takes_no_conversations_and_is_never_routed_one(service: HandoffService,
                                                                         clock: FakeClock) -> None:
    tess = await trainer(service)
    assert (await service.accounts.me(tess))["presence"] == "offline"  # signing in did not set them online
    with pytest.raises(NotAllowed, match="may not take conversations"):
        await service.desk.set_presence(tess, Presence.ONLINE)
    customer = await said(service, "a person please")
    await service.dispatch()
    assert (await customer.record()).state.value == "queued"  # nobody online: tess is not routed it
    grace = await Agent.sign_in(service, "grace")
    assert "Tess Okafor" not in {m["name"] for m in await service.accounts.team(grace.principal)}
    assert (await customer.record()).agent_id == grace.id  # signing in routed it to her
    with pytest.raises(BadRequest, match="takes no conversations"):
        await service.desk.transfer(grace.principal, customer.conversation_id, agent_id=tess.agent_id)
    for refused in (service.desk.queue(tess), service.desk.watch(tess, lambda frame: None),
                    service.desk.detail(tess, customer.conversation_id),
                    service.helpdesk.tickets(tess), service.accounts.team(tess)):
        with pytest.raises(NotAllowed):
            await refused


async def test_erasure_deletes_the_customers_items_and_retention_keeps_only_the_examples(
        open_service: OpenService, clock: FakeClock) -> None:
    service = await open_service(retention_days=30)
    gone = await said(service, "zqx one")
    kept = await said(service, "zqx two", "zqx three")
    tess = await trainer(service)
    ids = {i["text"]: i["id"] for i in await items(service, tess)}
    await service.inbox.decide(tess, [ids["zqx one"], ids["zqx two"]], "label", "order_status")
    exported = await service.data.export(conversation_id=gone.conversation_id)
    assert [i["text"] for i in exported["customers"][0]["nlu_inbox"]] == ["zqx one"]
    await service.data.delete(conversation_id=gone.conversation_id)
    assert [i["text"] for i in await items(service, tess, "labelled")] == ["zqx two"]
    await service.inbox.write()  # the next decision's write, or `python -m handoff inbox export`
    assert "zqx one" not in service.settings.inbox_file.read_text()

    clock.advance(31 * 86400)
    await service.data.retention()
    assert await items(service, tess) == []  # "zqx three": not an example, gone with its conversation
    [example] = await items(service, tess, "labelled")
    assert example["text"] == "zqx two" and kept.conversation_id  # detached, still training data
    await service.inbox.write()
    assert "- zqx two" in service.settings.inbox_file.read_text()


@pytest.mark.parametrize("profile", ["embedded"])
async def test_rasa_reads_the_written_file_with_the_projects_training_data(
        open_service: OpenService, tmp_path: Path) -> None:
    """The file is Rasa's NLU YAML: Rasa's own reader (in the Rasa environment) reads it, with the project's
    data/nlu beside it, as `rasa train --data data/nlu` would; and `rasa data validate` on the project with it
    passes, a new intent only warned about (not in the domain yet: docs/training.md)."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "bot" / "domain", project / "bot" / "domain")
    shutil.copytree(ROOT / "data" / "rules", project / "data" / "rules")
    shutil.copy(ROOT / "config.yml", project / "config.yml")
    nlu = project / "data" / "nlu"
    nlu.mkdir(parents=True)
    for source in (ROOT / "data" / "nlu").glob("*.yml"):
        if source.name != "inbox.yml":
            (nlu / source.name).write_text(source.read_text())
    service = await open_service(inbox_file=nlu / "inbox.yml")
    texts = ["zqx: can I pay with \"crypto\" #btc?", "zqx - gift wrap?", "zqx é ✓ 'quoted' {braces} [brackets]",
             "zqx lasagne"]
    await said(service, *texts)
    tess = await trainer(service)
    ids = {i["text"]: i["id"] for i in await items(service, tess)}
    await service.inbox.decide(tess, [ids[texts[0]]], "label", "payment_methods")
    await service.inbox.decide(tess, [ids[texts[1]], ids[texts[2]]], "label", "gift_wrap")
    await service.inbox.decide(tess, [ids[texts[3]]], "out_of_scope")
    script = textwrap.dedent("""\
        import json, sys
        from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
        from rasa.shared.nlu.training_data.loading import load_data
        inbox = RasaYAMLReader().read(sys.argv[1])
        both = load_data(sys.argv[2])
        print(json.dumps({"inbox": sorted([m.get("intent"), m.get("text"), m.get("entities") or []]
                                          for m in inbox.training_examples),
                          "intents": sorted(both.intents), "examples": len(both.training_examples)}))
        """)
    run = subprocess.run([str(RASA_PYTHON), "-c", script, str(nlu / "inbox.yml"), str(nlu)], capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    read = json.loads(run.stdout.strip().splitlines()[-1])
    assert read["inbox"] == sorted([
        ["gift_wrap", "zqx - gift wrap?", []], ["gift_wrap", "zqx é ✓ 'quoted' {braces} (brackets)", []],
        ["out_of_scope", "zqx lasagne", []], ["payment_methods", 'zqx: can I pay with "crypto" #btc?', []]])
    assert {"gift_wrap", "payment_methods", "out_of_scope", "order_status"} <= set(read["intents"])
    examples = sum(len([line for line in str(e.get("examples", "")).splitlines() if line.strip().startswith("- ")])
                  for path in (ROOT / "data" / "nlu").glob("*.yml") if path.name != "inbox.yml"
                  for e in (yaml.safe_load(path.read_text()).get("nlu") or []) if "intent" in e)
    assert read["examples"] >= examples + 3  # the inbox's examples join the project's (duplicates merged)
    validate = subprocess.run([str(RASA_PYTHON), "-m", "rasa", "data", "validate", "--domain", "bot/domain",
                               "--data", "data/nlu", "data/rules", "--config", "config.yml"], cwd=project,
                              capture_output=True, text=True, timeout=300, check=False)
    assert validate.returncode == 0, validate.stdout[-2000:] + validate.stderr[-2000:]
    assert "intent 'gift_wrap'. This intent is not listed in your domain" in validate.stdout + validate.stderr
