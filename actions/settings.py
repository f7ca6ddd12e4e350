"""Settings of the action server, read once from ``ACTIONS_*`` environment variables.

Escalation thresholds live here so operators tune them without a code change;
docs/evaluation.md explains how the defaults were chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from knowledge.settings import KnowledgeSettings


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable."""


@dataclass(frozen=True)
class ActionSettings:
    """Escalation thresholds and where the demo store's orders come from.

    Attributes:
        nlu_min_confidence: below this intent confidence the intent is not trusted.
        nlu_min_margin: below this gap between the top two intents the intent is
            ambiguous.
        kb_min_score: below this retrieval score no article is shown (the bot
            does not guess). Defaults to ``KB_MIN_SCORE``.
        max_fallbacks: after this many turns the bot could not answer in one
            conversation, it hands off instead of asking to rephrase.
        negative_sentiment: VADER compound score at or below which a message
            counts as negative.
        frustration: frustration estimate (0-1) at or above which the bot hands off.
        max_order_attempts: invalid order numbers or wrong proofs tolerated in one conversation before a
            hand-off.
        proof_attempts: wrong proofs (e-mail or postcode) for one order number, from any conversation, after
            which that order refuses proofs for a while (``proof_window``).
        proof_window: seconds the wrong proofs of ``proof_attempts`` are counted over.
        orders_file: the demo store's orders (YAML).
    """

    nlu_min_confidence: float = 0.5
    nlu_min_margin: float = 0.1
    kb_min_score: float = KnowledgeSettings.min_score  # one default for the bot and `knowledge evaluate`
    max_fallbacks: int = 2
    negative_sentiment: float = -0.6
    frustration: float = 0.7
    max_order_attempts: int = 3
    proof_attempts: int = 5
    proof_window: float = 3600.0
    orders_file: Path = Path("data/demo/orders.yml")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ActionSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            key = f"ACTIONS_{field.name.upper()}"
            raw = env.get(key, "")
            if field.name == "kb_min_score" and not raw:
                key, raw = "KB_MIN_SCORE", env.get("KB_MIN_SCORE", "")
            if not raw:
                continue
            try:
                values[field.name] = Path(raw) if field.type in ("Path", Path) else \
                    int(raw) if field.type in ("int", int) else float(raw)
            except ValueError:
                raise SettingsError(f"{key} must be a {field.type}, not {raw!r}.") from None
        return cls(**values)  # type: ignore[arg-type]
