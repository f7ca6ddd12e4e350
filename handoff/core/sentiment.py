"""A conversation's sentiment trend: the scores of the customer's messages, smoothed, and where they head.

Each customer message has a polarity score in [-1, 1] (VADER's compound score, the lexicon the bot's own
sentiment component uses; :mod:`handoff.adapters.text_models`). The trend is:

- ``scores``: the messages' scores in order;
- ``smoothed``: an exponential moving average of them (each point ``ALPHA`` of its message and the rest of
  the point before), so one sharp message moves the line without deciding it;
- ``direction``: ``improving`` when the smoothed line ends at least :data:`STEP` above where it began,
  ``worsening`` when at least :data:`STEP` below, ``steady`` otherwise (and for fewer than two messages).

It can mislead on sarcasm and on neutral domain words the lexicon reads as feelings ("charge", "block");
read it with the transcript. Pure computation, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ALPHA = 0.5
STEP = 0.2
NEGATIVE = -0.3
POSITIVE = 0.3
"""A message scoring at or below ``NEGATIVE`` is negative, at or above ``POSITIVE`` positive (the bot's
component draws the same lines)."""


def label(score: float) -> str:
    """``negative``, ``neutral`` or ``positive``."""
    return "negative" if score <= NEGATIVE else "positive" if score >= POSITIVE else "neutral"


def smooth(scores: Sequence[float], alpha: float = ALPHA) -> list[float]:
    """The exponential moving average of ``scores`` (starting at the first)."""
    line: list[float] = []
    for score in scores:
        line.append(score if not line else alpha * score + (1 - alpha) * line[-1])
    return [round(point, 3) for point in line]


def direction(smoothed: Sequence[float], step: float = STEP) -> str:
    """``improving``, ``worsening`` or ``steady``: where the smoothed line ends against where it began."""
    if len(smoothed) < 2:
        return "steady"
    change = smoothed[-1] - smoothed[0]
    return "improving" if change >= step else "worsening" if change <= -step else "steady"


def trend(scores: Sequence[float]) -> dict[str, Any]:
    """``{scores, smoothed, direction, mean, last}`` of a conversation's customer messages' scores."""
    line = smooth(scores)
    return {"scores": [round(s, 3) for s in scores], "smoothed": line, "direction": direction(line),
            "mean": round(sum(scores) / len(scores), 3) if scores else None, "last": line[-1] if line else None}
