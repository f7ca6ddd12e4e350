"""The cached equivalents of two Rasa hot spots give Rasa's own verdicts."""

from __future__ import annotations

import os

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

import bot.stores  # noqa: F401  # loading the stores, as endpoints.yml does, installs the speed-ups
from bot import rasa_speedups

ACTION = RemoteAction("action_answer_or_handoff", None)
GOOD = {"events": [{"event": "slot", "name": "fallback_count", "value": 0.0}],
        "responses": [{"response": "utter_kb_answer", "answer": "Yes.", "title": "Shipping"}]}


def test_the_stores_install_the_speedups() -> None:
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result
    assert Event.resolve_by_type is rasa_speedups._resolve_by_type


def test_a_valid_response_passes_and_the_schema_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = []
    validator = type(rasa_speedups.response_validator())
    monkeypatch.setattr(validator, "check_schema", classmethod(lambda cls, schema: checks.append(schema)))
    for _ in range(3):
        assert ACTION._validate_action_result(GOOD) is True
    assert checks == []  # jsonschema.validate would have checked Rasa's schema three times


@pytest.mark.parametrize("bad", [{"events": [{"event": "no_such_event"}]}, {"responses": "not a list"},
                                 {"events": [{"event": "slot", "name": 3}]}])
def test_an_invalid_response_is_refused_with_rasa_s_message(bad: dict) -> None:
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        ACTION._validate_action_result(bad)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())  # Rasa's own check agrees


def test_event_types_resolve_as_rasa_resolves_them() -> None:
    for _ in range(2):  # the second time from the cache
        assert Event.resolve_by_type("user") is UserUttered
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet


def test_unknown_event_types_raise_as_in_rasa() -> None:
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    stored = [e.as_dict() for e in [UserUttered("hi"), SlotSet("fallback_count", 1.0)]]
    assert [type(Event.from_parameters(d)) for d in stored] == [UserUttered, SlotSet]


def test_the_native_thread_pools_are_limited_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import threadpoolctl

    pools = threadpoolctl.threadpool_info()
    assert pools, "numpy's BLAS should be loaded in the Rasa process"
    assert {pool["num_threads"] for pool in pools} == {1}, pools  # the stores' import installed the limit
    threadpoolctl.threadpool_limits(2)  # as if unlimited, whatever this machine's cores
    assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info()} == {2}
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    rasa_speedups.install()
    assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info()} == {1}
    assert os.environ["OMP_NUM_THREADS"] == "1"  # libraries loaded later read it
