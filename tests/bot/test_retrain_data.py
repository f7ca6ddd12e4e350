"""The regression set of the retraining gate (bot/retrain.py) is held out, and covers what it says it covers."""

from __future__ import annotations

import re

from rasa.shared.nlu.training_data.loading import load_data

from bot.retrain import REGRESSION_NLU, STORIES, load_examples
from tests.bot.conftest import ROOT


def normal(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def test_the_regression_phrasings_are_not_in_the_training_data_and_cover_every_intent() -> None:
    training = load_data(str(ROOT / "data" / "nlu"))
    seen = {normal(m.get("text")) for m in training.intent_examples}
    regression = load_examples([REGRESSION_NLU])
    assert [text for text, _ in regression if normal(text) in seen] == []
    assert {intent for _, intent in regression} == set(training.intents)


def test_the_conversation_tests_cover_every_form_and_every_hand_off_rule() -> None:
    stories = "".join(path.read_text() for path in sorted(STORIES.glob("test_*.yml")))
    forms = re.findall(r"^  (\w+_form):", (ROOT / "bot" / "domain" / "orders.yml").read_text(), re.M)
    assert len(forms) == 5 and all(f"- active_loop: {form}" in stories for form in forms)
    handoff_rules = (ROOT / "data" / "rules" / "handoff.yml").read_text()
    for intent in re.findall(r"- intent: (\w+)", handoff_rules):
        assert f"intent: {intent}\n" in stories, intent
