"""Three Rasa 3.6 hot spots: two replaced by cached equivalents, and idle thread pools.

Found with py-spy on the Rasa server under load (docs/benchmarks.md):

- Every action server response is checked with ``jsonschema.validate``, which
  first validates Rasa's response schema itself against the JSON Schema
  2020-12 meta-schema, on every call: about 40% of the server's CPU.
  Responses are now checked with one validator built, and its schema checked,
  once. A response that fails goes through Rasa's own method, so the error and
  its message are Rasa's.
- Every event read back from a tracker store finds its class by walking all
  subclasses of ``Event`` (``Event.resolve_by_type``): about 7%. The class
  found for a type name is now remembered; unknown names still go through
  Rasa's own method (its ``default`` and its error).
- The native thread pools in the Rasa process (numpy's and scipy's OpenBLAS,
  scikit-learn's OpenMP) start one thread per core and spin while they wait
  for work. A message's matrices are tiny, so the extra threads add nothing but
  their spinning: about 45% of the server's CPU per reply (50 ms against 28 ms
  at 8 concurrent conversations, same throughput), taken from the action server
  and, in production, from the other Sanic worker. The pools loaded so far are
  limited to one thread each (threadpoolctl), and ``OMP_NUM_THREADS`` and
  ``OPENBLAS_NUM_THREADS`` (unless set) tell the ones loaded later, with the
  model's components; ``RASA_BLAS_THREADS`` sets another limit.

``bot/stores.py`` installs all three: endpoints.yml loads that module when the
server starts, in every profile.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Text, Type

import threadpoolctl
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

_originals: Dict[Text, Callable[..., Any]] = {}
_validator: Optional[Validator] = None
_event_classes: Dict[Text, Type[Event]] = {}


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
    return bool(_originals["validate"](self, result))  # raises Rasa's ValidationError with Rasa's message


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_classes.get(type_name)
    if found is None:
        found = _originals["resolve"](type_name, default)
        if found is not None and found is not default:
            _event_classes[type_name] = found
    return found


def limit_thread_pools() -> None:
    """Limit the native thread pools to ``RASA_BLAS_THREADS`` threads (default 1): those loaded so far, and,
    through their environment variables, those loaded later in this process."""
    threads = os.environ.get("RASA_BLAS_THREADS", "1")
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, threads)
    threadpoolctl.threadpool_limits(int(threads))


def install() -> None:
    """Replace both methods and limit the thread pools (idempotent)."""
    limit_thread_pools()
    if not _originals:
        _originals["validate"] = RemoteAction._validate_action_result
        _originals["resolve"] = Event.resolve_by_type
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
        Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]
