"""Sentiment and frustration of each customer message.

VADER (a lexicon and rule-based analyser tuned to short informal text) gives a
compound polarity in [-1, 1]. Frustration adds what VADER does not weigh for a
helpdesk: shouting (capitals), repeated punctuation, and phrases that say the
customer has been failed before ("still", "again", "third time"). The result is
added to the parse data as ``sentiment``:

    {"label": "negative", "score": -0.62, "frustration": 0.7, "escalate": true}

A customer this upset should not be walked through a form first: at or above
``escalation_threshold`` the component, placed after the FallbackClassifier,
replaces the final intent with ``escalation_intent`` (``complaint``), whose
rule hands the conversation off. The classifier's ranking is kept untouched in
``intent_ranking``, so the hand-off request still says what was asked.

It can fail on sarcasm and on domain words with a neutral meaning here (a
"charge" on a card); it is one escalation signal among several, never the only one.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

SENTIMENT = "sentiment"
_REPEAT_PHRASES = re.compile(
    r"\b(still|again|already|third time|second time|(?:for )?weeks|nobody|no one|never|"
    r"ridiculous|unacceptable|useless|waste of time|fed up|sick of|worst|scam)\b", re.IGNORECASE)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SentimentAnalyzer(GraphComponent):
    """Adds ``sentiment`` (label, score, frustration) to every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # compound score at or below which a message is "negative"
            "negative_threshold": -0.3,
            # compound score at or above which a message is "positive"
            "positive_threshold": 0.3,
            # frustration at or above which the final intent becomes
            # `escalation_intent` (keep equal to ACTIONS_FRUSTRATION); null: never
            "escalation_threshold": 0.7,
            "escalation_intent": "complaint",
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["vaderSentiment"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.config = {**self.get_default_config(), **config}
        self._vader = SentimentIntensityAnalyzer()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentimentAnalyzer:
        return cls(config)

    def analyse(self, text: Text) -> Dict[Text, Any]:
        """Label, VADER compound score and a 0-1 frustration estimate for ``text``."""
        score = float(self._vader.polarity_scores(text)["compound"])
        letters = [c for c in text if c.isalpha()]
        shouting = len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.6
        cues = len(_REPEAT_PHRASES.findall(text)) + (1 if shouting else 0) + (1 if re.search(r"[!?]{2,}", text) else 0)
        frustration = min(1.0, max(0.0, -score) * 0.6 + 0.2 * cues)
        if score <= self.config["negative_threshold"]:
            label = "negative"
        elif score >= self.config["positive_threshold"]:
            label = "positive"
        else:
            label = "neutral"
        threshold = self.config["escalation_threshold"]
        escalate = threshold is not None and frustration >= float(threshold)
        return {"label": label, "score": round(score, 3), "frustration": round(frustration, 3), "escalate": escalate}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if not message.get(TEXT):
                continue
            result = self.analyse(message.get(TEXT))
            message.set(SENTIMENT, result, add_to_output=True)
            if result["escalate"]:
                intent = {INTENT_NAME_KEY: self.config["escalation_intent"],
                          PREDICTED_CONFIDENCE_KEY: result["frustration"]}
                message.set(INTENT, intent, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
