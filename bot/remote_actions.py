"""Check the action server's answers with a JSON Schema validator built once.

Rasa 3.6 checks every action server response with ``jsonschema.validate``,
which first validates Rasa's response schema itself against the JSON Schema
2020-12 meta-schema, on every call. Under load that was about 40% of the Rasa
server's CPU (py-spy, docs/benchmarks.md). :func:`install` makes
``RemoteAction`` check responses with one validator built, and its schema
checked, once. A response that fails goes through Rasa's own method, so the
error and its message are Rasa's.

``bot/stores.py`` installs it: endpoints.yml loads that module when the server
starts, in every profile.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Text

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

_original: Optional[Callable[[RemoteAction, Dict[Text, Any]], bool]] = None
_validator: Optional[Validator] = None


def response_validator() -> Validator:
    """The validator of action server responses, built on first use."""
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    return _validator


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    if response_validator().is_valid(result):
        return True
    assert _original is not None
    return _original(self, result)  # raises Rasa's ValidationError with Rasa's message


def install() -> None:
    """Make ``RemoteAction`` use the validator built once (idempotent)."""
    global _original
    if _original is None:
        _original = RemoteAction._validate_action_result
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
