"""The routing strategy interface, and typed reading of a strategy's options.

A strategy looks at one snapshot (the waiting conversation, the agents, the
time) and says, for each agent, how well it fits by its own criterion, or that
the agent must not get the conversation at all. The :class:`~handoff.core.routing.router.Router`
composes several of them with weights, as the routing configuration says; it
does the I/O-free arithmetic, the service does the reading and the atomic
assignment around it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol

from handoff.core.errors import RoutingConfigError
from handoff.core.model import AgentId, AgentSnapshot, WaitingConversation

Scores = dict[AgentId, float | None]


class Strategy(Protocol):
    """Base class for routing strategies.

    A strategy holds its options only: it keeps no state between calls, so one
    instance serves every conversation, every instance of the service gives the
    same answer for the same snapshot, and tests need no fixture but the snapshot.
    """

    name: ClassVar[str]
    """Short name of the strategy, as written in the routing configuration (``workload``)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Strategy:
        """Build the strategy from its ``options`` in the routing configuration.

        Args:
            options: the strategy's options; missing keys take their documented defaults.

        Raises:
            RoutingConfigError: an option is unknown or malformed; the message names the option
                and, for an unknown one, the valid names.
        """

    def evaluate(self, conversation: WaitingConversation, agents: Sequence[AgentSnapshot], now: datetime) -> Scores:
        """Score each agent for the conversation.

        The router passes only agents that may take the conversation as far as it knows (online,
        under capacity, not excluded, the requested agent when there is one), so a strategy need
        not check that again.

        Args:
            conversation: the conversation to route.
            agents: the candidate agents' snapshots.
            now: the current time, timezone-aware (never read the clock: tests pass it).

        Returns:
            For every agent in ``agents``, by id: a score in [0, 1] (1 fits best), or None to exclude
            the agent whatever the other strategies say (a hard filter; an agent left out of the
            result counts as excluded too). Must be deterministic for
            the snapshot and cheap: the router calls it with up to thousands of agents per decision.
        """


class Options:
    """Typed reading of one strategy's options, failing with the option's name.

    Args:
        strategy: the strategy's name, for messages.
        options: the options from the configuration (may be None for none).
        valid: the option names the strategy understands.
        kind: what ``strategy`` names, for messages.

    Raises:
        RoutingConfigError: ``options`` is not a mapping or names an option not in ``valid``.
    """

    def __init__(self, strategy: str, options: Mapping[str, Any] | None, valid: Collection[str],
                 kind: str = "routing strategy") -> None:
        self.where = f"{kind} {strategy!r}"
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise RoutingConfigError(f"The options of {self.where} must be a mapping.")
        unknown = sorted(str(key) for key in options if key not in valid)
        if unknown:
            names = ", ".join(sorted(valid)) or "none"
            raise RoutingConfigError(f"The {self.where} has no option {unknown[0]!r} (valid options: {names}).")
        self.options = options

    def _fail(self, key: str, expected: str) -> RoutingConfigError:
        return RoutingConfigError(f"Option {key!r} of the {self.where} must be {expected}, "
                                  f"not {self.options[key]!r}.")

    def number(self, key: str, default: float, minimum: float = 0.0, maximum: float = math.inf) -> float:
        """A finite number in [minimum, maximum]."""
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or not minimum <= value <= maximum:
            bounds = f"between {minimum:g} and {maximum:g}" if math.isfinite(maximum) else f"at least {minimum:g}"
            raise self._fail(key, f"a number {bounds}")
        return float(value)

    def optional_number(self, key: str, default: float | None, minimum: float = 0.0) -> float | None:
        """A number at least ``minimum``, or None (written ``null`` in YAML) for "never"."""
        if self.options.get(key, default) is None:
            return None
        return self.number(key, default if default is not None else minimum, minimum)

    def flag(self, key: str, default: bool) -> bool:
        """A boolean (YAML ``true``/``false``)."""
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def text(self, key: str, default: str) -> str:
        """A non-empty string."""
        value = self.options.get(key, default)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        return value
