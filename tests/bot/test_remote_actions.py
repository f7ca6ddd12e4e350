"""Action server responses are checked with a validator built once, with Rasa's verdicts."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.stores  # noqa: F401  # loading the stores, as endpoints.yml does, installs the validator
from bot import remote_actions

ACTION = RemoteAction("action_answer_or_handoff", None)
GOOD = {"events": [{"event": "slot", "name": "fallback_count", "value": 0.0}],
        "responses": [{"response": "utter_kb_answer", "answer": "Yes.", "title": "Shipping"}]}


def test_the_stores_install_the_validator() -> None:
    assert RemoteAction._validate_action_result is remote_actions._validate_action_result


def test_a_valid_response_passes_and_the_schema_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = []
    validator = type(remote_actions.response_validator())
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
