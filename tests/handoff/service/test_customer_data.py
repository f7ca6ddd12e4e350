"""A customer's data (docs/security.md, "Customer data"): export, delete, and the retention sweep on the fake
clock, in both profiles."""

from __future__ import annotations

import pytest

from handoff.core.errors import BadRequest, NotAuthenticated, UnknownConversation
from handoff.core.model import State
from handoff.service import HandoffService
from tests.handoff.conftest import OpenService
from tests.handoff.frames import of_type
from tests.handoff.world import Agent, Customer, FakeClock

DAY = 86400.0


async def handed_off(service: HandoffService, **body: str) -> Customer:
    """A customer who talked to the bot and asked for a person, and now has a ticket (queued or assigned)."""
    customer = await Customer.start(service, **body)
    await customer.say("my parcel 4711 never came, a person please")
    assert (await customer.record()).state in (State.QUEUED, State.ASSIGNED)
    return customer


async def test_export_finds_the_customer_by_conversation_external_id_or_email(service: HandoffService) -> None:
    customer = await handed_off(service, name="Jo Doe", email="Jo@Example.com")
    record = await customer.record()
    assert record.ticket_id is not None
    supervisor = await Agent.sign_in(service, "ada")
    await service.desk.note(supervisor.principal, customer.conversation_id, "Asked twice already")
    await Customer.start(service, name="Someone else", email="else@example.com")
    by_id = await service.data.export(conversation_id=customer.conversation_id)
    assert await service.data.export(email="jo@example.COM") | {"exported_at": ""} == by_id | {"exported_at": ""}
    [exported] = by_id["customers"]
    assert (exported["customer"]["name"], exported["customer"]["email"]) == ("Jo Doe", "Jo@Example.com")
    [conversation] = exported["conversations"]
    assert conversation["conversation_id"] == customer.conversation_id
    assert next(m["text"] for m in conversation["messages"]) == "my parcel 4711 never came, a person please"
    assert [t["to_state"] for t in conversation["transitions"]][:2] == ["bot", "queued"]
    [ticket] = exported["tickets"]
    assert ticket["id"] == record.ticket_id and [n["text"] for n in ticket["notes"]] == ["Asked twice already"]
    shop = await service.data.export(external_id="shop-1001")  # a demo customer the shop knows
    assert shop["customers"][0]["customer"]["email"] == "maria.jensen@example.com"
    with pytest.raises(UnknownConversation):
        await service.data.export(email="nobody@example.com")
    with pytest.raises(BadRequest):
        await service.data.export(email="jo@example.com", external_id="shop-1001")


async def test_delete_erases_transcripts_and_personal_fields_and_closes_the_conversation(
        service: HandoffService) -> None:
    customer = await handed_off(service, name="Jo Doe", email="jo@example.com")
    token = service.customers.token(customer.conversation_id)
    record = await customer.record()
    ada = await Agent.sign_in(service, "ada")  # she is given the conversation
    await service.desk.note(ada.principal, customer.conversation_id, "Lives at 1 Main St")
    await ada.presence("away")
    other = await handed_off(service, name="Kim", email="kim@example.com")
    assert await service.data.delete(email="jo@example.com") == {"customers": 1, "conversations": 1}
    team = await service.accounts.team(ada.principal)
    assert [a["load"] for a in team if a["id"] == ada.id] == [0]  # it no longer counts

    await customer.inbox.next(of_type("revoked"))  # its sockets close with 4401
    with pytest.raises(NotAuthenticated):
        await service.customers.check_token(customer.conversation_id, token)
    with pytest.raises(UnknownConversation):
        await customer.record()  # the live record is gone, and so is its place in the queue
    assert [q["conversation_id"] for q in await service.desk.queue(ada.principal)] == [other.conversation_id]
    assert await service.customers.history(customer.conversation_id) == []
    with pytest.raises(UnknownConversation):
        await service.data.export(email="jo@example.com")
    ticket = await service.helpdesk.ticket(ada.principal, record.ticket_id)  # type: ignore[arg-type]
    # kept for the KPIs, anonymous: the ticket's number, state and times, the reason codes, the transitions
    assert ticket["id"] == record.ticket_id and ticket["status"] in ("open", "pending") and ticket["reasons"]
    assert (ticket["summary"], ticket["request"], ticket["callback"], ticket["notes"], ticket["messages"]) == (
        "", None, None, [], [])
    assert [t["to_state"] for t in ticket["transitions"]][:2] == ["bot", "queued"]
    person = await service.customers.get(other.conversation_id)
    assert (await service.data.export(conversation_id=other.conversation_id))["customers"][0]["customer"][
        "name"] == "Kim" and person.state is State.QUEUED  # nobody else's data is touched
    exported = await service.data.export(conversation_id=customer.conversation_id)  # found by the kept row
    assert exported["customers"][0]["customer"] | {"id": "", "created_at": ""} == {
        "id": "", "created_at": "", "external_id": None, "name": None, "email": None,
        "language": "en", "value_tier": "standard", "lifetime_value": 0.0}
    assert exported["customers"][0]["conversations"][0]["messages"] == []


async def test_retention_deletes_what_is_older_than_the_setting(service: HandoffService, clock: FakeClock) -> None:
    ada = await Agent.sign_in(service, "ada")
    await ada.presence("away")  # nobody takes it: the conversation is left as it was
    old = await handed_off(service, name="Old", email="old@example.com")
    await service.desk.note(ada.principal, old.conversation_id, "an old note")
    clock.advance(729 * DAY)
    await service.sweep()  # not old enough yet (and the daily run has now been done)
    assert len(await service.customers.history(old.conversation_id)) >= 1
    recent = await handed_off(service, name="Recent")
    clock.advance(2 * DAY)  # the old conversation is now 731 days old, the recent one 2
    await service.sweep()
    assert await service.customers.history(old.conversation_id) == []
    with pytest.raises(UnknownConversation):
        await service.data.export(email="old@example.com")
    with pytest.raises(UnknownConversation):
        await old.record()
    assert next(m.sender for m in await service.customers.history(recent.conversation_id)) == "customer"
    assert (await service.data.retention())["conversations"] == 0  # on demand: nothing more is that old
    clock.advance(DAY / 2)
    await service.sweep()  # the daily run is not due: the recent conversation is untouched either way
    assert await service.customers.history(recent.conversation_id)


async def test_a_restart_never_brings_an_erased_conversation_back(open_service: OpenService) -> None:
    """Recovery rebuilds the live store from the ticket log; an erased customer's conversation (its row kept,
    anonymous, for the KPIs) is neither queued again nor opened again by an old link."""
    service = await open_service()
    erased = await handed_off(service, name="Jo Doe", email="jo@example.com")
    kept = await handed_off(service, name="Kim", email="kim@example.com")
    kept_state = (await kept.record()).state
    await service.data.delete(email="jo@example.com")
    await service.close()

    again = await open_service(forget=True)  # a new process, or a Redis that kept nothing
    assert (await again.customers.get(kept.conversation_id)).state is kept_state
    assert erased.conversation_id not in [q["conversation_id"] for q in await again.board.queue()]
    with pytest.raises(UnknownConversation):
        await again.customers.get(erased.conversation_id)
