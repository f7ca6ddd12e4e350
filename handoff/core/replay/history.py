"""What the replay takes from the past: the period's hand-offs and the customers' patience.

A :class:`Contact` is one hand-off of the ticket log (its ticket): when it came, who, what (tier, category,
priority, language), and what became of it (how long it waited, how long agents held it, how often it was
transferred, when its customer gave up). :class:`History` is the period's contacts with what routing knew of
their customers at the period's start (last agent, past tickets).

Patience is only seen for customers who gave up; for those served it is known only to be longer than their
wait (a censored observation). :class:`PatienceCurve` is the Kaplan-Meier estimate of its distribution from
both, and draws a served customer's patience from it given that it exceeded their wait.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from handoff.core.metrics import percentile
from handoff.core.model import AgentId, CustomerId, Priority

ABANDONED = "abandoned"
OFFLINE = "offline"


def quantiles(ordered: Sequence[float]) -> tuple[float | None, float | None]:
    """The median and 90th percentile of sorted values as the reports compute them (None for no values)."""
    if not ordered:
        return None, None
    return percentile(ordered, 0.5), percentile(ordered, 0.9)


@dataclass(frozen=True, slots=True)
class Contact:
    """One hand-off of the history.

    Attributes:
        created_at: when it was handed to a person (the ticket's creation; seconds since the epoch).
        status: the ticket's status (``resolved``, ``abandoned``, ``offline``, ``open``, ``pending``).
        wait: seconds from creation to the first assignment, or None if nobody was assigned.
        handle_seconds: the ended assignments' time, summed (None or 0: never held).
        transfers: assignments that ended in a transfer.
        gave_up_after: seconds from creation to abandonment, for a customer who gave up (before anybody took
            them, or waiting again after a transfer).
    """

    ticket_id: int
    customer_id: CustomerId
    created_at: float
    tier: int = 1
    category: str | None = None
    priority: Priority = Priority.NORMAL
    language: str = "en"
    value_tier: str = "standard"
    status: str = "resolved"
    wait: float | None = None
    handle_seconds: float | None = None
    transfers: int = 0
    gave_up_after: float | None = None


@dataclass(frozen=True, slots=True)
class CustomerStart:
    """What routing knew of a customer when the period began."""

    last_agent_id: AgentId | None = None
    past_tickets: int = 0


@dataclass(frozen=True)
class History:
    """The period ``[since, until)`` (seconds since the epoch): its contacts in order of creation, and their
    customers as they stood at ``since`` (customers not named had no ticket before)."""

    since: float
    until: float
    contacts: tuple[Contact, ...]
    customers: dict[CustomerId, CustomerStart] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.since < self.until:
            raise ValueError("the period must end after it begins")

    def measured(self, target_seconds: float, where: Callable[[Contact], bool] | None = None
                 ) -> dict[str, float | None]:
        """The period's own figures, measured as the replay measures them: the queued contacts' (those not
        offline; only those ``where`` accepts, if given) wait to the first assignment (p50, p90), the share
        assigned within ``target_seconds``, the share abandoned, and the offline ones."""
        chosen = [c for c in self.contacts if where is None or where(c)]
        queued = [c for c in chosen if c.status != OFFLINE]
        waits = sorted(c.wait for c in queued if c.wait is not None)
        p50, p90 = quantiles(waits)
        count = len(queued)
        return {"queued": float(count), "offline": float(len(chosen) - count), "wait_p50": p50, "wait_p90": p90,
                "service_level": sum(w <= target_seconds for w in waits) / count if count else None,
                "abandonment": sum(c.status == ABANDONED for c in queued) / count if count else None}


class PatienceCurve:
    """The Kaplan-Meier estimate of how long customers wait before giving up.

    Args:
        gave_up: seconds after which customers gave up (observed patience).
        served_after: seconds after which customers were served (their patience was longer: censored).
    """

    def __init__(self, gave_up: Sequence[float], served_after: Sequence[float]) -> None:
        observations = sorted([(t, True) for t in gave_up] + [(t, False) for t in served_after])
        at_risk = len(observations)
        survival = 1.0
        self.times: list[float] = []
        self.survival: list[float] = []  # S(t) just after each event time
        index = 0
        while index < len(observations):
            moment = observations[index][0]
            events = censored = 0
            while index < len(observations) and observations[index][0] == moment:
                events += observations[index][1]
                censored += not observations[index][1]
                index += 1
            if events:
                survival *= 1.0 - events / at_risk
                self.times.append(moment)
                self.survival.append(survival)
            at_risk -= events + censored
        self._falling = [-s for s in self.survival]  # increasing: bisect finds where S falls below a level

    def surviving(self, seconds: float) -> float:
        """S(seconds): the share of customers still waiting after ``seconds``."""
        place = bisect.bisect_right(self.times, seconds)
        return self.survival[place - 1] if place else 1.0

    def draw(self, rng: random.Random, longer_than: float = 0.0) -> float:
        """A patience drawn from the curve, given that it exceeds ``longer_than``; ``math.inf`` for a customer
        beyond the last observed abandonment (one who would have waited as long as it took)."""
        start = self.surviving(longer_than)
        if start <= 0.0:
            return math.inf
        target = start * (1.0 - rng.random())  # in (0, start]
        # the first event time after longer_than at which S falls to the target or below
        low = bisect.bisect_right(self.times, longer_than)
        place = bisect.bisect_left(self._falling, -target, lo=low)
        return self.times[place] if place < len(self._falling) else math.inf
