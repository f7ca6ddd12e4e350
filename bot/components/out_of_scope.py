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

With ``signals: [distance]`` the threshold is chosen at training time from the
training data alone: the held-out scores of the in-scope training examples (each
scored against its own intent's other folds) give the distribution of scores of
messages the assistant *does* cover, and the threshold is their ``retention``
quantile, so about ``1 - retention`` of in-scope messages would score above it
whatever the size of the training data (300 examples or 15,000).

Combined score (``signals`` with more than the distance). Each signal is a number
that grows as the message looks less in scope:

    distance    score(x, c) above, c the top in-scope intent of the ranking
    confidence  1 - the classifier's confidence in c
    margin      1 - (confidence in c - confidence in the next in-scope intent)
    nearest     1 - mean of the k highest cosine similarities to the examples of ANY intent

Each is turned into an empirical p-value against the same signal on held-out
in-scope training examples, ``p_j(x) = (1 + #{held-out s_j >= s_j(x)}) / (n + 1)``,
and the p-values are combined (``combine``): ``fisher`` scores ``-sum log p_j``
(a product of tail probabilities), ``min_p`` scores ``-log min p_j`` (the signal
that finds the message least typical decides). The threshold is the
``retention`` quantile of the combined scores of the same held-out examples.

The held-out examples: the training examples are split into ``folds`` folds
(within each intent); for as many folds as needed to score at least
``min_held_out`` in-scope examples (all folds for small assistants, one or two
for BANKING77-sized ones) a copy of the pipeline's classifier
(bot.components.intent_classifier.LinearIntentClassifier's features and model,
``classifier_C``) is fitted without the fold, and each example of the fold gets
every signal exactly as a new message would at parse time: the refitted
classifier's confidence and top in-scope intent, the distance to that intent's
examples outside the fold, the nearest example outside the fold. At parse time
the confidence is the real classifier's (``intent_ranking``), trained on
everything. Refitting the classifier is the price of a held-out confidence: a
classifier's confidence on its own training examples says nothing about new
messages.

At parse time a message scoring above the threshold becomes ``nlu_fallback``
(the hand-off decision the rest of the pipeline and bot/evaluate.py read),
unless it is already ``nlu_fallback`` or an out-of-scope intent. Every parsed
message carries the score and its parts:

    "out_of_scope_detection": {"score": 7.9, "threshold": 6.1, "fired": true, "intent": "card_arrival",
                               "distance": 1.42, "confidence": 0.21, "p_distance": 0.04, "p_confidence": 0.02}

``fired`` says the detector itself made the message ``nlu_fallback`` (false when
the score is under the threshold, or when an earlier rule had already handed
the message off).

The sentence vectors are the dense sentence features of the featurizers before
it (bot.components.sentence_encoder.SentenceEncoderFeaturizer in config.yml).
Stored with the model as plain NumPy arrays (never pickled).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
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
SIGNALS = ("distance", "confidence", "margin", "nearest")
COMBINATIONS = ("fisher", "min_p")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class OutOfScopeDetector(GraphComponent):
    """Hands off messages unlike the in-scope training examples; threshold fitted on training folds."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Nearest training examples averaged into the distances.
            "k": 3,
            # Folds of each intent's examples for the held-out scores (fewer for
            # intents with fewer examples; intents with one example are skipped).
            "folds": 5,
            # Share of in-scope training examples (held out) that must score at
            # or under the threshold: the threshold is this quantile of their
            # held-out scores. Higher keeps more in-scope messages, hands off less.
            "retention": 0.97,
            # What the score is made of (see the module docstring): ["distance"]
            # alone is the distance score with its own threshold; with more, each
            # signal becomes a p-value against held-out in-scope examples and
            # the p-values are combined by `combine` ("fisher" or "min_p").
            "signals": ["distance"],
            "combine": "fisher",
            # Held-out in-scope examples wanted for the combined score: the
            # classifier is refitted without one fold after another until this
            # many are scored (or every fold has been).
            "min_held_out": 1500,
            # The refitted classifier's inverse regularisation: keep equal to the
            # LinearIntentClassifier's C.
            "classifier_C": 20.0,
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
        unknown = set(self.config["signals"]) - set(SIGNALS)
        if unknown or not self.config["signals"] or self.config["combine"] not in COMBINATIONS:
            raise ValueError(f"OutOfScopeDetector: signals must be among {SIGNALS} and combine one of "
                             f"{COMBINATIONS}, not {self.config['signals']} / {self.config['combine']}")
        self._model_storage = model_storage
        self._resource = resource
        self._arrays = arrays or {}
        self.intents: List[str] = list((meta or {}).get("intents", []))
        self.threshold: float = float((meta or {}).get("threshold", np.inf))
        self._sorted = {name: np.sort(values) for name, values in self._arrays.items() if name.startswith("held_out_")}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> OutOfScopeDetector:
        return cls(config, model_storage, resource)

    @property
    def combined(self) -> bool:
        """Whether the score combines p-values of several signals (else it is the distance alone)."""
        return list(self.config["signals"]) != ["distance"]

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
        examples = [m for m in training_data.intent_examples if self._vector(m) is not None]
        in_scope = [m for m in examples if m.get(INTENT) not in excluded]
        if not in_scope:
            logger.warning("OutOfScopeDetector found no dense sentence features; it stays off.")
            return self._resource
        intents = sorted({m.get(INTENT) for m in in_scope})
        index = {intent: i for i, intent in enumerate(intents)}
        labels = np.array([index[m.get(INTENT)] for m in in_scope], dtype=np.int32)
        vectors = np.vstack([self._vector(m) for m in in_scope]).astype(np.float32)
        spreads, held_out = fit_spreads(vectors, labels, len(intents), int(self.config["k"]),
                                        int(self.config["folds"]), float(self.config["spread_prior"]),
                                        int(self.config["random_seed"]))
        self.intents = intents
        self._arrays = {"vectors": vectors, "labels": labels, "spreads": spreads.astype(np.float32)}
        if not self.combined:
            scores = np.concatenate([raw / spreads[c] for c, raw in held_out.items()]) if held_out else np.zeros(0)
        else:
            started = time.perf_counter()
            samples = self._held_out_signals(examples, excluded)
            for name in self.config["signals"]:  # row i of each is the same held-out example
                self._arrays[f"held_out_{name}"] = samples[name].astype(np.float64)
            self._sorted = {f"held_out_{name}": np.sort(samples[name]) for name in self.config["signals"]}
            scores = self._combine({name: samples[name] for name in self.config["signals"]})
            logger.info("out-of-scope detector: signals %s of %d held-out examples in %.1f s",
                        list(self.config["signals"]), scores.size, time.perf_counter() - started)
        self.threshold = float(np.quantile(scores, float(self.config["retention"]))) if scores.size else float(np.inf)
        logger.info("out-of-scope detector: %d examples, %d intents, threshold %.3f from %d held-out scores",
                    len(labels), len(intents), self.threshold, scores.size)
        self.persist()
        return self._resource

    def _held_out_signals(self, examples: List[Message], excluded: set) -> Dict[str, np.ndarray]:
        """Every signal of in-scope training examples scored by models fitted without their fold.

        The folds are drawn within each intent (out-of-scope intents included: the
        classifier learns them too); folds are used one after another until
        ``min_held_out`` in-scope examples are scored.
        """
        from sklearn.linear_model import LogisticRegression

        from bot.components.intent_classifier import LinearIntentClassifier

        names = [str(m.get(INTENT)) for m in examples]
        classes = sorted(set(names))
        y = np.array([classes.index(n) for n in names])
        rng = np.random.default_rng(int(self.config["random_seed"]) + 1)
        n_folds = max(2, int(self.config["folds"]))
        fold = np.full(len(examples), -1)
        for c in range(len(classes)):
            rows = np.flatnonzero(y == c)
            if rows.size >= 2:
                fold[rows] = rng.permutation(np.arange(rows.size) % min(n_folds, rows.size))
        featurizer = LinearIntentClassifier({"C": float(self.config["classifier_C"])}, self._model_storage,
                                            self._resource)
        features = featurizer._matrix(examples)
        vectors = np.vstack([self._vector(m) for m in examples]).astype(np.float32)
        scope = np.array([n not in excluded for n in names])
        # each example's class among the detector's intents (-1: an out-of-scope intent)
        own = np.array([self.intents.index(n) if s else -1 for n, s in zip(names, scope, strict=True)])
        spreads = self._arrays["spreads"]
        k = int(self.config["k"])
        out: Dict[str, List[np.ndarray]] = {name: [] for name in SIGNALS}
        scored = 0
        for f in range(n_folds):
            test = (fold == f) & scope
            train = fold != f
            if not test.any() or len(set(y[train])) < 2:
                continue
            model = LogisticRegression(C=float(self.config["classifier_C"]), max_iter=3000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(features[train], y[train])
            probabilities = model.predict_proba(features[test])
            fitted = [classes[c] for c in model.classes_]
            columns = np.array([i for i, name in enumerate(fitted) if name not in excluded])
            in_scope = probabilities[:, columns]
            order = np.argsort(-in_scope, axis=1)
            top = in_scope[np.arange(len(order)), order[:, 0]]
            second = in_scope[np.arange(len(order)), order[:, 1]] if in_scope.shape[1] > 1 else np.zeros(len(top))
            top_intent = np.array([self.intents.index(fitted[columns[i]]) for i in order[:, 0]])
            references = train & scope
            similarities = vectors[test] @ vectors[references].T
            reference_intent = own[references]
            distance = np.empty(len(top))
            for row, c in enumerate(top_intent):
                sims = similarities[row, reference_intent == c]
                distance[row] = _distance(sims, k) / spreads[c] if sims.size else np.inf
            out["distance"].append(distance)
            out["confidence"].append(1.0 - top)
            out["margin"].append(1.0 - (top - second))
            out["nearest"].append(np.array([_distance(row, k) for row in similarities]))
            scored += int(test.sum())
            if scored >= int(self.config["min_held_out"]):
                break
        return {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in out.items()}

    def _combine(self, signals: Dict[str, np.ndarray]) -> np.ndarray:
        """The combined score of each row of ``signals`` (name -> values) from its held-out p-values."""
        logs = np.vstack([np.log(self.p_value(name, values)) for name, values in signals.items()])
        if self.config["combine"] == "min_p":
            return -logs.min(axis=0)
        return -logs.sum(axis=0)

    def p_value(self, name: str, values: np.ndarray) -> np.ndarray:
        """Share of held-out in-scope examples whose signal ``name`` is at least ``values`` (plus one)."""
        sample = self._sorted[f"held_out_{name}"]
        at_least = sample.size - np.searchsorted(sample, np.asarray(values, dtype=np.float64), side="left")
        return (1.0 + at_least) / (1.0 + sample.size)

    # -- prediction ----------------------------------------------------------------------------

    def score(self, vector: np.ndarray, intent: str) -> Optional[float]:
        """``vector``'s distance to ``intent``'s examples over the intent's spread (None for unknown intents)."""
        if intent not in self.intents:
            return None
        c = self.intents.index(intent)
        members = self._arrays["vectors"][self._arrays["labels"] == c]
        return float(_distance(members @ vector, int(self.config["k"])) / self._arrays["spreads"][c])

    def signals(self, vector: np.ndarray, ranking: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The candidate intent and every signal of a message (None when no in-scope intent is ranked)."""
        in_scope = [r for r in ranking if r.get(INTENT_NAME_KEY) in self.intents]
        if not in_scope:
            return None
        candidate = in_scope[0][INTENT_NAME_KEY]
        top = float(in_scope[0].get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        second = float(in_scope[1].get(PREDICTED_CONFIDENCE_KEY) or 0.0) if len(in_scope) > 1 else 0.0
        values: Dict[str, Any] = {"intent": candidate, "distance": self.score(vector, candidate),
                                  "confidence": 1.0 - top, "margin": 1.0 - (top - second)}
        if "nearest" in self.config["signals"]:
            values["nearest"] = float(_distance(self._arrays["vectors"] @ vector, int(self.config["k"])))
        return values

    def process(self, messages: List[Message]) -> List[Message]:
        if "vectors" not in self._arrays:
            return messages
        skip = set(self.config["out_of_scope_intents"]) | {FALLBACK, self.config["fallback_intent"]}
        for message in messages:
            vector = self._vector(message)
            ranking = message.get(INTENT_RANKING_KEY) or []
            values = self.signals(vector, ranking) if vector is not None else None
            if values is None:
                continue
            output: Dict[str, Any] = {"intent": values["intent"], "distance": round(values["distance"], 4)}
            if self.combined:
                for name in self.config["signals"]:
                    output[name] = round(values[name], 4)
                    output[f"p_{name}"] = round(float(self.p_value(name, np.array([values[name]]))[0]), 4)
                score = float(self._combine({name: np.array([values[name]]) for name in self.config["signals"]})[0])
            else:
                score = values["distance"]
            current = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            fired = score > self.threshold and current not in skip
            output.update({"score": round(score, 4), "threshold": round(self.threshold, 4), "fired": fired})
            message.set(OUTPUT_KEY, output, add_to_output=True)
            if fired:
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


def _distance(similarities: np.ndarray, k: int) -> float:
    """1 - the mean of the ``k`` highest of ``similarities`` (fewer when there are fewer)."""
    kk = min(k, similarities.size)
    return float(1.0 - np.partition(similarities, similarities.size - kk)[-kk:].mean())


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
