"""Out-of-scope detection by distance to the training examples in sentence-embedding space.

The classifier's top probability says how sure it is *between the intents it
knows*; a message about something no intent covers can still get a confident
top intent. This component adds a second opinion that does not depend on the
other intents: how far the message lies from the training examples of the
intent it was given, relative to how spread out that intent's own examples are.

Score of a message ``x`` given intent ``c`` (the top in-scope intent of the
ranking):

    raw(x, c)   = 1 - mean of the k highest cosine similarities between x and c's examples
    score(x, c) = raw(x, c) / spread(c)

``spread(c)`` is the median ``raw`` of c's own examples when each is held out of
c (k-fold over the examples), shrunk towards the median over all intents for
intents with few examples. A score of 1 is a typical distance for that intent.

The threshold is chosen at training time from the training data alone: the
held-out scores of the in-scope training examples (each scored against its own
intent's other folds) give the distribution of scores of messages the assistant
*does* cover, and the threshold is their ``retention`` quantile, so about
``1 - retention`` of in-scope messages would score above it whatever the size of
the training data (300 examples or 15,000). At parse time a message scoring
above the threshold becomes ``nlu_fallback`` (the hand-off decision the rest of
the pipeline and bot/evaluate.py read), unless it is already ``nlu_fallback`` or
an out-of-scope intent. Every parsed message carries the score:

    "out_of_scope_detection": {"score": 1.42, "threshold": 1.87, "intent": "card_arrival"}

The sentence vectors are the dense sentence features of the featurizers before
it (bot.components.sentence_encoder.SentenceEncoderFeaturizer in config.yml).
Stored with the model as plain NumPy arrays (never pickled).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (FEATURE_TYPE_SENTENCE, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY,
                                      PREDICTED_CONFIDENCE_KEY, TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

ARRAYS_FILE = "out_of_scope_detector.npz"
META_FILE = "out_of_scope_detector.json"
FALLBACK = "nlu_fallback"
OUTPUT_KEY = "out_of_scope_detection"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class OutOfScopeDetector(GraphComponent):
    """Hands off messages far from their intent's training examples; threshold fitted on training folds."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Nearest training examples of the intent averaged into the distance.
            "k": 3,
            # Folds of each intent's examples for the held-out scores (fewer for
            # intents with fewer examples; intents with one example are skipped).
            "folds": 5,
            # Share of in-scope training examples (held out) that must score at
            # or under the threshold: the threshold is this quantile of their
            # held-out scores. Higher keeps more in-scope messages, hands off less.
            "retention": 0.97,
            # Pseudo-count shrinking each intent's spread towards the median over
            # all intents: an intent with this many examples gets half of each.
            "spread_prior": 10,
            # Intents that are themselves "hand this off" (not scored as in-scope
            # references, never overridden).
            "out_of_scope_intents": ["out_of_scope"],
            # Intent set on messages scoring above the threshold.
            "fallback_intent": FALLBACK,
            # Seed of the fold assignment (training is deterministic).
            "random_seed": 0,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 arrays: Optional[Dict[str, np.ndarray]] = None, meta: Optional[Dict[str, Any]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._arrays = arrays or {}
        self.intents: List[str] = list((meta or {}).get("intents", []))
        self.threshold: float = float((meta or {}).get("threshold", np.inf))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> OutOfScopeDetector:
        return cls(config, model_storage, resource)

    # -- features ------------------------------------------------------------------------------

    @staticmethod
    def _vector(message: Message) -> Optional[np.ndarray]:
        """The message's unit-length dense sentence vector (dense featurizers side by side), or None."""
        dense = [f.features for f in message.features
                 if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_dense()]
        if not dense:
            return None
        vector = np.hstack([np.asarray(d, dtype=np.float32).reshape(-1) for d in dense])
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    # -- training ------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        excluded = set(self.config["out_of_scope_intents"])
        pairs = [(m.get(INTENT), self._vector(m)) for m in training_data.intent_examples
                 if m.get(INTENT) not in excluded]
        pairs = [(intent, v) for intent, v in pairs if v is not None]
        if not pairs:
            logger.warning("OutOfScopeDetector found no dense sentence features; it stays off.")
            return self._resource
        intents = sorted({intent for intent, _ in pairs})
        index = {intent: i for i, intent in enumerate(intents)}
        labels = np.array([index[intent] for intent, _ in pairs], dtype=np.int32)
        vectors = np.vstack([v for _, v in pairs]).astype(np.float32)
        spreads, held_out = fit_spreads(vectors, labels, len(intents), int(self.config["k"]),
                                        int(self.config["folds"]), float(self.config["spread_prior"]),
                                        int(self.config["random_seed"]))
        scores = np.concatenate([raw / spreads[c] for c, raw in held_out.items()]) if held_out else np.zeros(0)
        self.threshold = float(np.quantile(scores, float(self.config["retention"]))) if scores.size else float(np.inf)
        self.intents = intents
        self._arrays = {"vectors": vectors, "labels": labels, "spreads": spreads.astype(np.float32)}
        logger.info("out-of-scope detector: %d examples, %d intents, threshold %.3f from %d held-out scores",
                    len(labels), len(intents), self.threshold, scores.size)
        self.persist()
        return self._resource

    # -- prediction ----------------------------------------------------------------------------

    def score(self, vector: np.ndarray, intent: str) -> Optional[float]:
        """``vector``'s distance to ``intent``'s examples over the intent's spread (None for unknown intents)."""
        if intent not in self.intents:
            return None
        c = self.intents.index(intent)
        members = self._arrays["vectors"][self._arrays["labels"] == c]
        similarities = members @ vector
        k = min(int(self.config["k"]), similarities.size)
        top = np.partition(similarities, similarities.size - k)[-k:]
        return float((1.0 - top.mean()) / self._arrays["spreads"][c])

    def process(self, messages: List[Message]) -> List[Message]:
        if "vectors" not in self._arrays:
            return messages
        skip = set(self.config["out_of_scope_intents"]) | {FALLBACK, self.config["fallback_intent"]}
        for message in messages:
            vector = self._vector(message)
            ranking = message.get(INTENT_RANKING_KEY) or []
            candidate = next((r[INTENT_NAME_KEY] for r in ranking if r.get(INTENT_NAME_KEY) in self.intents), None)
            if vector is None or candidate is None:
                continue
            score = self.score(vector, candidate)
            if score is None:
                continue
            message.set(OUTPUT_KEY, {"score": round(score, 4), "threshold": round(self.threshold, 4),
                                     "intent": candidate}, add_to_output=True)
            current = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if score > self.threshold and current not in skip:
                fallback = {INTENT_NAME_KEY: self.config["fallback_intent"], PREDICTED_CONFIDENCE_KEY: 1.0}
                message.set(INTENT, fallback, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [dict(fallback)] + list(ranking), add_to_output=True)
        return messages

    # -- persistence ---------------------------------------------------------------------------

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / ARRAYS_FILE, **self._arrays)
            (directory / META_FILE).write_text(json.dumps({"intents": self.intents, "threshold": self.threshold}))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> OutOfScopeDetector:
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                    arrays = {key: stored[key] for key in stored.files}
                meta = json.loads((directory / META_FILE).read_text())
        except (ValueError, FileNotFoundError):
            logger.warning("OutOfScopeDetector has no trained model in %s; it hands nothing off.", resource.name)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, arrays, meta)


def fit_spreads(vectors: np.ndarray, labels: np.ndarray, n_intents: int, k: int, folds: int, prior: float,
                seed: int) -> tuple[np.ndarray, Dict[int, np.ndarray]]:
    """Each intent's spread and its examples' held-out raw distances (k-fold within the intent).

    An example of fold f is scored against its intent's examples outside fold f.
    Intents with a single example have no held-out distance; their spread is the
    median over all intents.
    """
    rng = np.random.default_rng(seed)
    held_out: Dict[int, np.ndarray] = {}
    for c in range(n_intents):
        members = vectors[labels == c]
        n = len(members)
        if n < 2:
            continue
        n_folds = min(folds, n)
        fold = rng.permutation(np.arange(n) % n_folds)
        similarities = members @ members.T
        raw = np.empty(n, dtype=np.float64)
        for f in range(n_folds):
            rows = fold == f
            others = similarities[np.ix_(rows, ~rows)]
            kk = min(k, others.shape[1])
            top = np.partition(others, others.shape[1] - kk, axis=1)[:, -kk:]
            raw[rows] = 1.0 - top.mean(axis=1)
        held_out[c] = raw
    medians = {c: float(np.median(raw)) for c, raw in held_out.items()}
    overall = float(np.median(list(medians.values()))) if medians else 1.0
    spreads = np.full(n_intents, max(overall, 1e-6))
    for c, median in medians.items():
        n = int((labels == c).sum())
        spreads[c] = max((n * median + prior * overall) / (n + prior), 1e-6)
    return spreads, held_out


__all__ = ["OutOfScopeDetector", "fit_spreads"]
