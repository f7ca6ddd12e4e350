"""A/B trials of bot models (docs/training.md, "A/B trials"): which arm serves a conversation, and how the arms
compare. Pure.

- Arms (:func:`arm_of`): while a trial runs, each conversation *started* during it is served by the candidate
  model with probability ``share``, decided by a hash of the trial's id and the conversation's id: the same
  conversation always lands in the same arm (sticky, on every instance, after a restart, with nothing stored),
  and the two arms are random samples of the same traffic. A conversation started before the trial stays on the
  live model. The ticket log can therefore say afterwards which arm every conversation was in.
- Comparison (:func:`compare`): per arm, the conversations started, how many the bot handed to a person (the
  hand-off rate; the rest were contained by the bot), and the customers' ratings (1-5). The hand-off rates are
  compared with a two-sided test of two independent proportions (score test) and the difference's 95% interval
  (Newcombe), the ratings with a two-sided Mann-Whitney U test (ratings are ordinal). Containment is one minus
  the hand-off rate, so one test covers both.
- Reading it honestly: a trial is planned for a sample (:func:`planned_sample`): enough conversations per arm to
  see a :data:`DETECTABLE` change of the hand-off rate with :data:`POWER` at :data:`ALPHA`. A dashboard that is
  looked at every day inflates false alarms if it is believed as soon as p dips below 0.05, so the verdict says
  ``collecting`` until the planned sample is reached, however small p is on the way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
from scipy.stats import mannwhitneyu
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    test_proportions_2indep,
)

LIVE, CANDIDATE = "live", "candidate"
ARMS = (LIVE, CANDIDATE)
ALPHA = 0.05
POWER = 0.8
DETECTABLE = 0.05
"""The change of the hand-off rate (absolute, 5 points) a trial is sized to see."""
BASELINE_RATE = 0.3
"""The hand-off rate assumed for the plan until the live arm has conversations of its own."""
MIN_SAMPLE = 100
"""Conversations per arm below which no verdict is given whatever the plan says."""
HASH_SPACE = 16 ** 13
PROGRESS_POINTS = 100  # points of the chart of the arms' hand-off rates as the trial goes on


@dataclass(frozen=True)
class Trial:
    """One A/B trial as the model registry keeps it (``trial.json`` while it runs, ``trials.json`` once ended).

    Attributes:
        trial_id: ``trial-<UTC time>``.
        version / live: the candidate version, and the live version when the trial started.
        share: the share of new conversations served by the candidate, in (0, 1).
        started_at / ended_at: epoch seconds (``ended_at`` None while it runs).
        outcome: how it ended (``ended``, ``promoted``: the candidate became the live model), None while it runs.
    """

    trial_id: str
    version: str
    live: str | None
    share: float
    started_at: float
    started_by: str
    ended_at: float | None = None
    ended_by: str | None = None
    outcome: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Trial | None:
        """The trial the registry's JSON describes, or None if it is not one (a file half-written by hand)."""
        if not isinstance(data, dict):
            return None
        try:
            share = float(data["share"])
            trial = cls(str(data["id"]), str(data["version"]), None if data.get("live") is None else
                        str(data["live"]), share, _epoch(data["started_at"]), str(data.get("started_by") or ""),
                        None if data.get("ended_at") is None else _epoch(data["ended_at"]),
                        None if data.get("ended_by") is None else str(data["ended_by"]),
                        None if data.get("outcome") is None else str(data["outcome"]))
        except (KeyError, TypeError, ValueError):
            return None
        return trial if 0.0 < share < 1.0 else None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.trial_id, "version": self.version, "live": self.live, "share": self.share,
                "started_at": self.started_at, "started_by": self.started_by, "ended_at": self.ended_at,
                "ended_by": self.ended_by, "outcome": self.outcome, "running": self.ended_at is None}


def _epoch(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def draw(trial_id: str, conversation_id: str) -> float:
    """The conversation's uniform draw in [0, 1) for the trial: a hash, so every instance draws the same."""
    digest = hashlib.sha256(f"{trial_id}\x00{conversation_id}".encode()).hexdigest()
    return int(digest[:13], 16) / HASH_SPACE


def arm_of(trial: Trial | None, conversation_id: str, started_at: float) -> str:
    """The arm serving a conversation started at ``started_at``: ``candidate`` only for a conversation started
    while ``trial`` ran whose draw falls under the share; ``live`` otherwise."""
    if trial is None or started_at < trial.started_at or (trial.ended_at is not None and started_at >= trial.ended_at):
        return LIVE
    return CANDIDATE if draw(trial.trial_id, conversation_id) < trial.share else LIVE


class ArmFact(NamedTuple):
    """One conversation started during a trial, as the ticket log reads it."""

    conversation_id: str
    started_at: float
    handed: bool  # the bot handed it to a person (it has a ticket)
    rating: int | None  # the customer's latest rating (1-5) of the conversation, if any


def planned_sample(share: float, baseline: float | None) -> int:
    """Conversations per arm (the smaller arm's) needed to see a :data:`DETECTABLE` change of the hand-off rate
    from ``baseline`` with :data:`POWER`, two-sided at :data:`ALPHA`, with arms in the ratio the share makes."""
    base = BASELINE_RATE if baseline is None or not 0.0 < baseline < 1.0 else baseline
    other = base - DETECTABLE if base + DETECTABLE >= 1.0 else base + DETECTABLE
    ratio = max(share, 1 - share) / min(share, 1 - share)  # larger arm / smaller arm
    effect = abs(float(proportion_effectsize(base, other)))
    smaller = NormalIndPower().solve_power(effect_size=effect, alpha=ALPHA, power=POWER, ratio=ratio,
                                           alternative="two-sided")
    return max(MIN_SAMPLE, math.ceil(float(smaller)))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _arm_figures(facts: Sequence[ArmFact]) -> dict[str, Any]:
    handed = sum(1 for f in facts if f.handed)
    ratings = [f.rating for f in facts if f.rating is not None]
    return {"conversations": len(facts), "handoffs": handed, "handoff_rate": _rate(handed, len(facts)),
            "contained": len(facts) - handed, "containment_rate": _rate(len(facts) - handed, len(facts)),
            "ratings": len(ratings), "rating_average": round(sum(ratings) / len(ratings), 3) if ratings else None,
            "satisfied_rate": _rate(sum(1 for r in ratings if r >= 4), len(ratings))}


def _finite(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def _handoff_test(live: Mapping[str, Any], candidate: Mapping[str, Any]) -> dict[str, Any]:
    """The candidate's hand-off rate minus the live one's, its 95% interval and the test's p-value."""
    n1, n0 = candidate["conversations"], live["conversations"]
    if not n1 or not n0:
        return {"difference": None, "low": None, "high": None, "p": None}
    x1, x0 = candidate["handoffs"], live["handoffs"]
    p = test_proportions_2indep(x1, n1, x0, n0, method="score", compare="diff").pvalue
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff", alpha=ALPHA)
    return {"difference": round(x1 / n1 - x0 / n0, 4), "low": _finite(low), "high": _finite(high),
            "p": _finite(p) if x1 + x0 not in (0, n1 + n0) else 1.0}


def _rating_test(live: Sequence[int], candidate: Sequence[int]) -> dict[str, Any]:
    """The candidate's mean rating minus the live one's, and the Mann-Whitney test's p-value."""
    if not live or not candidate:
        return {"difference": None, "p": None}
    difference = round(sum(candidate) / len(candidate) - sum(live) / len(live), 3)
    if len(set(live) | set(candidate)) == 1:
        return {"difference": difference, "p": 1.0}  # every rating the same: nothing to tell apart
    p = mannwhitneyu(np.asarray(candidate), np.asarray(live), alternative="two-sided").pvalue
    return {"difference": difference, "p": _finite(p)}


def verdict(handoff: Mapping[str, Any], rating: Mapping[str, Any], reached: bool) -> str:
    """``collecting`` until the planned sample is reached; then ``better`` / ``worse`` when a significant
    difference points one way (fewer hand-offs, higher ratings is better), ``mixed`` when they disagree,
    ``no_difference`` when neither is significant."""
    if not reached:
        return "collecting"
    signs = []
    if handoff.get("p") is not None and handoff["p"] < ALPHA and handoff["difference"]:
        signs.append(-1 if handoff["difference"] > 0 else 1)
    if rating.get("p") is not None and rating["p"] < ALPHA and rating["difference"]:
        signs.append(1 if rating["difference"] > 0 else -1)
    if not signs:
        return "no_difference"
    if all(s > 0 for s in signs):
        return "better"
    if all(s < 0 for s in signs):
        return "worse"
    return "mixed"


def compare(trial: Trial, facts: Iterable[ArmFact]) -> dict[str, Any]:
    """Both arms' figures, the tests, the plan and the verdict, and how each arm's hand-off rate moved as the
    trial's conversations came in (``progress``, for the chart)."""
    ordered = sorted(facts, key=lambda f: f.started_at)
    labelled = [(arm_of(trial, fact.conversation_id, fact.started_at), fact) for fact in ordered]
    arms: dict[str, list[ArmFact]] = {LIVE: [], CANDIDATE: []}
    for arm, fact in labelled:
        arms[arm].append(fact)
    figures = {name: _arm_figures(found) for name, found in arms.items()}
    handoff = _handoff_test(figures[LIVE], figures[CANDIDATE])
    rating = _rating_test([f.rating for f in arms[LIVE] if f.rating is not None],
                          [f.rating for f in arms[CANDIDATE] if f.rating is not None])
    planned = planned_sample(trial.share, figures[LIVE]["handoff_rate"])
    smaller = min(figures[LIVE]["conversations"], figures[CANDIDATE]["conversations"])
    return {"trial": trial.to_json(), "arms": figures, "handoff_test": handoff, "rating_test": rating,
            "planned_per_arm": planned, "smaller_arm": smaller,
            "verdict": verdict(handoff, rating, smaller >= planned), "alpha": ALPHA,
            "progress": _progress(labelled)}


def _progress(labelled: Sequence[tuple[str, ArmFact]], points: int = PROGRESS_POINTS) -> list[dict[str, Any]]:
    """Each arm's hand-off rate so far after the trial's first n conversations (both arms), for at most
    ``points`` values of n spread evenly up to all of them: whether the arms' rates have settled."""
    if not labelled:
        return []
    step = max(1, math.ceil(len(labelled) / points))
    counts = {LIVE: [0, 0], CANDIDATE: [0, 0]}
    out = []
    for index, (arm, fact) in enumerate(labelled, start=1):
        counts[arm][0] += 1
        counts[arm][1] += int(fact.handed)
        if index % step == 0 or index == len(labelled):
            out.append({"conversations": index, **{name: _rate(handed, seen) for name, (seen, handed)
                                                   in counts.items()}})
    return out
