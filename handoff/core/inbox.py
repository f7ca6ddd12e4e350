"""The NLU inbox's decisions, pure: which customer messages the bot was unsure about, how near-duplicates are
grouped, and how confirmed examples are written in Rasa's training-data format.

- :func:`uncertain`: from the model's intent ranking of one message (Rasa's ``parse_data``), the reasons it
  belongs in the inbox: ``fallback`` (Rasa's ``nlu_fallback`` won, or the top intent is under the confidence
  floor) and ``ambiguous`` (the top two intents within the margin). A confident message gives none.
- :func:`handoff_reasons`: whether a hand-off was about understanding (the bot did not know what was meant)
  rather than a clear request for a person or a complaint, which it understood.
- :func:`group`: near-duplicates together, greedily in the order given (oldest first), each text joining the
  first group whose first text is at least ``threshold`` cosine-similar (sentence vectors), or, without
  vectors, whose :func:`key` is the same. Deterministic for a given order. Leader clustering can split a
  chain of paraphrases (A~B, B~C, A!~C) into two groups: the trainer sees two groups and labels both; nothing
  is lost.
- :func:`render`: the trainer-confirmed examples as Rasa 3 NLU YAML, intents and examples sorted, one example
  per line, so that each decision is a one-line diff of the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FALLBACK_INTENT = "nlu_fallback"
"""What Rasa's FallbackClassifier calls a message under its thresholds (the ranking keeps the real intents)."""
IGNORED_INTENTS = frozenset({FALLBACK_INTENT, "human_handoff_turn"})
"""Not intents a trainer can label with: Rasa's fallback, and what a hand-back calls the customer's words."""
OUT_OF_SCOPE = "out_of_scope"
"""The domain's intent for what the assistant does not support: "mark out of scope" labels with it."""
TOP = 5  # intents kept per message (the hand-off request keeps as many)
NLU_HANDOFF_REASONS = frozenset({"low_nlu_confidence", "ambiguous_intent", "out_of_scope", "no_answer",
                                 "low_knowledge_score", "repeated_fallback"})
"""The hand-off reasons (docs/handoff-payload.md) that say the bot did not know what was meant, or had nothing
for it. ``explicit_request``, ``complaint``, ``negative_sentiment`` and ``order_lookup_failed`` say it
understood: those hand-offs reach the inbox only when an agent's handling says otherwise."""
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_EXAMPLE = 500  # characters of a training example (longer customer messages are not examples of one intent)
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w\s#]")
_SPACE = re.compile(r"\s+")


class Reason(StrEnum):
    """Why a message is in the inbox (a message can have several)."""

    FALLBACK = "fallback"
    AMBIGUOUS = "ambiguous"
    HANDED_OFF = "handed_off"
    NOT_HELPFUL = "not_helpful"
    AGENT_CATEGORY = "agent_category"


class Status(StrEnum):
    """Where an item is: waiting (``new``), labelled with an intent, marked out of scope, or dismissed."""

    NEW = "new"
    LABELLED = "labelled"
    OUT_OF_SCOPE = "out_of_scope"
    DISMISSED = "dismissed"


class Decision(StrEnum):
    """What a trainer does to items: ``label`` (with an intent), ``out_of_scope``, ``dismiss``, ``reopen``."""

    LABEL = "label"
    OUT_OF_SCOPE = "out_of_scope"
    DISMISS = "dismiss"
    REOPEN = "reopen"


CONFIRMED = (Status.LABELLED, Status.OUT_OF_SCOPE)
"""The statuses whose items are training examples."""


@dataclass(frozen=True)
class Thresholds:
    """``min_confidence``: a top intent under it is a fallback; ``margin``: top two closer than it are ambiguous."""

    min_confidence: float = 0.5
    margin: float = 0.1


def ranking(parse: Any) -> list[dict[str, Any]]:
    """The model's intents for a message, best first, without Rasa's ``nlu_fallback``: ``[{name, confidence}]``
    (at most :data:`TOP`) from ``parse_data`` (``intent_ranking``, or its ``intent`` alone)."""
    if not isinstance(parse, dict):
        return []
    ranked = parse.get("intent_ranking")
    if not isinstance(ranked, list) or not ranked:
        ranked = [parse.get("intent")]
    found: list[dict[str, Any]] = []
    for entry in ranked:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or entry["name"] in IGNORED_INTENTS:
            continue
        confidence = entry.get("confidence")
        value = float(confidence) if isinstance(confidence, int | float) and not isinstance(confidence, bool) else 0.0
        found.append({"name": entry["name"], "confidence": round(value, 4)})
    found.sort(key=lambda e: -e["confidence"])
    return found[:TOP]


def intent_of(parse: Any) -> str | None:
    """The intent the model chose for the message (``nlu_fallback`` included), or None."""
    intent = parse.get("intent") if isinstance(parse, dict) else None
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) and name else None


def uncertain(parse: Any, thresholds: Thresholds) -> list[Reason]:
    """Why the model was unsure about the message ``parse`` describes (empty: it was sure)."""
    if not isinstance(parse, dict) or intent_of(parse) in (None, "human_handoff_turn"):
        return []
    ranked = ranking(parse)
    reasons = []
    if intent_of(parse) == FALLBACK_INTENT or not ranked or ranked[0]["confidence"] < thresholds.min_confidence:
        reasons.append(Reason.FALLBACK)
    if len(ranked) >= 2 and ranked[0]["confidence"] - ranked[1]["confidence"] < thresholds.margin:
        reasons.append(Reason.AMBIGUOUS)
    return reasons


def handoff_reasons(codes: Iterable[str]) -> bool:
    """Whether a hand-off with these reason codes was about understanding (:data:`NLU_HANDOFF_REASONS`)."""
    return any(code in NLU_HANDOFF_REASONS for code in codes)


def key(text: str) -> str:
    """The text reduced to what near-duplicates share without an encoder: case, accents, punctuation and
    spacing dropped, numbers as ``#`` ("Where is order 12345?" and "where is order 678" share one)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = _NOT_WORD.sub(" ", _DIGITS.sub("#", folded))
    return _SPACE.sub(" ", folded).strip()[:255]


def group(keys: Sequence[str], vectors: npt.NDArray[np.float32] | None, threshold: float) -> list[list[int]]:
    """Indexes of near-duplicates, grouped (see the module's docstring); groups in the order of their first."""
    groups: list[list[int]] = []
    leaders: list[int] = []
    by_key: dict[str, int] = {}
    for i, text_key in enumerate(keys):
        found = by_key.get(text_key)
        if found is None and vectors is not None and leaders:
            similarity = vectors[leaders] @ vectors[i]
            best = int(np.argmax(similarity))
            found = best if float(similarity[best]) >= threshold else None
        if found is None:
            found = len(groups)
            groups.append([])
            leaders.append(i)
        groups[found].append(i)
        by_key.setdefault(text_key, found)
    return groups


def check_intent(name: Any) -> str:
    """A valid intent name for a label (``snake_case``, not Rasa's fallback), or ValueError with a sentence."""
    if not isinstance(name, str) or not INTENT_NAME.match(name.strip()):
        raise ValueError("An intent name is snake_case: a lowercase letter, then letters, digits or _ (2-64).")
    if name.strip() in IGNORED_INTENTS:
        raise ValueError(f"{name.strip()} is not an intent to label with.")
    return name.strip()


def example(text: str) -> str:
    """The customer's text as one training example: one line, no control characters, square brackets made
    round (Rasa reads ``[text](entity)`` as an entity annotation; an inbox example annotates none), at most
    :data:`MAX_EXAMPLE` characters ("" when nothing is left)."""
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    cleaned = cleaned.replace("[", "(").replace("]", ")")
    return _SPACE.sub(" ", cleaned).strip()[:MAX_EXAMPLE].strip()


HEADER = ("# Trainer-confirmed examples from the NLU inbox (docs/training.md). Written by the handoff service\n"
          "# from its ticket log on every decision: label, un-label or dismiss in the workbench, not here.\n")


def render(examples: Mapping[str, Iterable[str]]) -> str:
    """Rasa 3 NLU training data (``version: "3.1"``) for ``{intent: examples}``: intents by name, each one's
    examples sorted (case-insensitively, then exactly), each once, one per line, intents without any left out."""
    lines = [HEADER.rstrip("\n"), 'version: "3.1"', "nlu:"]
    for intent in sorted(examples):
        kept = sorted({e for e in (example(t) for t in examples[intent]) if e}, key=lambda e: (e.casefold(), e))
        if not kept:
            continue
        lines += [f"- intent: {intent}", "  examples: |", *(f"    - {e}" for e in kept)]
    if lines[-1] == "nlu:":
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"
