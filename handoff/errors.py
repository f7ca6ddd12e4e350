"""Errors raised by the handoff service.

::

    HandoffError
    ├── SettingsError          a HANDOFF_* variable (or DATABASE_URL, REDIS_URL) is missing or malformed
    ├── RoutingConfigError     the routing YAML names an unknown strategy or a bad weight
    ├── UnknownConversation    no conversation has that id
    ├── StateConflict          the conversation is not in a state that allows the action
    ├── Conflict               the thing already exists (a conversation id, a username)
    ├── NotAllowed             the caller may not do this (wrong customer token, not the assignee, role)
    ├── BadRequest             malformed or oversized input
    └── UpstreamUnavailable    Rasa (or another service we call) does not answer

Each message is a sentence fit for the person on the other end; the HTTP and
WebSocket layers map them to status and close codes.
"""

from __future__ import annotations

from handoff.core.model import State


class HandoffError(Exception):
    """Base class of every error raised by :mod:`handoff`."""


class SettingsError(HandoffError):
    """A configuration value is missing or malformed."""


class RoutingConfigError(HandoffError):
    """The routing configuration cannot be built into a router."""


class UnknownConversation(HandoffError):
    """No conversation has the given id."""


class StateConflict(HandoffError):
    """The conversation's current state does not allow the requested change."""

    def __init__(self, message: str, current: State | None = None) -> None:
        super().__init__(message)
        self.current = current


class Conflict(HandoffError):
    """The object already exists."""


class NotAllowed(HandoffError):
    """The caller is not allowed to do this."""


class BadRequest(HandoffError):
    """The input is malformed or too large."""


class UpstreamUnavailable(HandoffError):
    """A service the handoff service depends on (Rasa) did not answer."""
