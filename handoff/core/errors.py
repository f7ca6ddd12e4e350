"""Errors raised by the handoff service.

::

    HandoffError
    ├── SettingsError          a HANDOFF_* variable (or DATABASE_URL, REDIS_URL) is missing or malformed
    ├── RoutingConfigError     the routing YAML names an unknown strategy or a bad weight
    ├── UnknownConversation    no conversation has that id
    ├── StateConflict          the conversation is not in a state that allows the action
    ├── Conflict               the thing already exists (a conversation id, a username)
    ├── NotAllowed             the caller may not do this (wrong customer token, not the assignee, role)
    │   └── NotAuthenticated   no valid session, or wrong username or password
    ├── BadRequest             malformed or oversized input
    ├── RateLimited            a client asked too often (carries when to try again)
    └── UpstreamUnavailable    Rasa (or another service we call) does not answer

Each message is a sentence fit for the person on the other end. ``code`` is the
machine-readable name both the REST errors and the socket's ``error`` frames
carry; the HTTP layer maps the classes to status codes.
"""

from __future__ import annotations

from handoff.core.model import State


class HandoffError(Exception):
    """Base class of every error raised by :mod:`handoff`."""

    code = "error"


class SettingsError(HandoffError):
    """A configuration value is missing or malformed."""

    code = "settings"


class RoutingConfigError(HandoffError):
    """The routing configuration cannot be built into a router."""

    code = "routing_config"


class UnknownConversation(HandoffError):
    """No conversation has the given id."""

    code = "unknown_conversation"


class StateConflict(HandoffError):
    """The conversation's current state does not allow the requested change."""

    code = "state_conflict"

    def __init__(self, message: str, current: State | None = None) -> None:
        super().__init__(message)
        self.current = current


class Conflict(HandoffError):
    """The object already exists."""

    code = "conflict"


class NotAllowed(HandoffError):
    """The caller is not allowed to do this."""

    code = "not_allowed"


class NotAuthenticated(NotAllowed):
    """The caller has not signed in, their session ended, or their credentials are wrong."""

    code = "not_authenticated"


class BadRequest(HandoffError):
    """The input is malformed or too large."""

    code = "bad_request"


class RateLimited(HandoffError):
    """A client went over an abuse limit; ``retry_after``: seconds until it may try again."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(HandoffError):
    """A service the handoff service depends on (Rasa) did not answer."""

    code = "unavailable"
