"""A linear intent classifier over sparse n-gram and dense sentence features.

Why this and not DIET: on customer-service data a multinomial logistic
regression over TF-IDF word and character n-grams plus a sentence embedding is
as accurate as a transformer trained from scratch (see docs/evaluation.md),
trains in seconds instead of minutes, answers in microseconds, and its
probabilities are well enough calibrated to drive the hand-off thresholds of
the FallbackClassifier that follows it.

Features: the sentence-level sparse features of every CountVectorsFeaturizer
before it (sublinear TF, IDF learned here, L2-normalised) and the dense
sentence features of every dense featurizer (L2-normalised, scaled by
``dense_weight``). The model is stored as plain NumPy arrays, never pickled.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (FEATURE_TYPE_SENTENCE, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY,
                                      TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

ARRAYS_FILE = "linear_intent_classifier.npz"
LABELS_FILE = "labels.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on TF-IDF n-grams plus sentence embeddings."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Inverse regularisation strength of the logistic regression.
            "C": 20.0,
            # Weight of the (unit-length) dense block beside the (unit-length)
            # sparse block.
            "dense_weight": 1.0,
            # Optimiser iterations; training stops earlier when converged.
            "max_iter": 3000,
            # Intents listed in `intent_ranking`.
            "ranking_length": 10,
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 arrays: Optional[Dict[str, np.ndarray]] = None, labels: Optional[List[Text]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._arrays = arrays or {}
        self.labels = labels or []

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "scipy"]

    # -- features ------------------------------------------------------------------------------

    @staticmethod
    def _raw_features(message: Message) -> Tuple[Optional[scipy.sparse.csr_matrix], Optional[np.ndarray]]:
        """The message's sentence-level sparse and dense features, each side by side in pipeline order.

        What ``Message.get_sparse_features`` / ``get_dense_features`` combine, without
        their deep copies and without combining the sequence features we do not use.
        """
        sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        sparse = [f.features for f in sentence if f.is_sparse()]
        dense = [f.features for f in sentence if f.is_dense()]
        sparse_row = scipy.sparse.hstack(sparse, format="csr") if sparse else None
        dense_row = np.hstack(dense).astype(np.float32).reshape(1, -1) if dense else None
        return sparse_row, dense_row

    def _blocks(self, messages: List[Message]) -> Tuple[Optional[scipy.sparse.csr_matrix], Optional[np.ndarray]]:
        """The weighted sparse block and the scaled dense block of ``messages``' features (either may be absent)."""
        rows = [self._raw_features(m) for m in messages]
        sparse_block: Optional[scipy.sparse.csr_matrix] = None
        dense_block: Optional[np.ndarray] = None
        if rows and rows[0][0] is not None:
            counts = scipy.sparse.vstack([r[0] for r in rows]).tocsr()
            tf = counts.copy()
            tf.data = np.log1p(np.abs(tf.data))
            if "idf" not in self._arrays:
                document_frequency = np.bincount(tf.indices, minlength=tf.shape[1])
                self._arrays["idf"] = (np.log((1 + tf.shape[0]) / (1 + document_frequency)) + 1).astype(np.float32)
            sparse_block = _unit_rows(tf.multiply(self._arrays["idf"].reshape(1, -1)).tocsr())
        if rows and rows[0][1] is not None:
            dense = np.vstack([r[1] for r in rows])
            dense /= np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-9)
            dense_block = dense * float(self.config["dense_weight"])
        if sparse_block is None and dense_block is None:
            raise ValueError("LinearIntentClassifier needs sparse or dense features before it in the pipeline.")
        return sparse_block, dense_block

    def _matrix(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        """The training matrix: the sparse block beside the dense block."""
        sparse_block, dense_block = self._blocks(messages)
        blocks = [b for b in (sparse_block, None if dense_block is None else scipy.sparse.csr_matrix(dense_block))
                  if b is not None]
        return scipy.sparse.hstack(blocks).tocsr()

    # -- training and prediction ---------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.features_present(TEXT)]
        labels = [m.get(INTENT) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("LinearIntentClassifier needs at least two intents; it stays untrained.")
            return self._resource
        self._arrays = {}
        features = self._matrix(examples)
        logger.info("training intent classifier on %d examples, %d intents, %d features",
                    features.shape[0], len(set(labels)), features.shape[1])
        model = LogisticRegression(C=float(self.config["C"]), max_iter=int(self.config["max_iter"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on tiny data sets
            model.fit(features, labels)
        self.labels = [str(label) for label in model.classes_]
        coef, intercept = model.coef_, model.intercept_
        if len(self.labels) == 2:  # sklearn keeps one row for binary problems
            coef, intercept = np.vstack([-coef, coef]) / 2, np.hstack([-intercept, intercept]) / 2
        self._arrays["coef"] = coef.astype(np.float32)
        self._arrays["intercept"] = intercept.astype(np.float32)
        self.persist()
        return self._resource

    def predict_proba(self, messages: List[Message]) -> np.ndarray:
        # block by block: the same scores as the training matrix's, without stacking a sparse copy of the dense block
        sparse_block, dense_block = self._blocks(messages)
        coef = self._arrays["coef"]
        scores = np.tile(self._arrays["intercept"].astype(np.float64), (len(messages), 1))
        width = 0
        if sparse_block is not None:
            width = sparse_block.shape[1]
            scores += np.asarray(sparse_block @ coef[:, :width].T)
        if dense_block is not None:
            scores += dense_block @ coef[:, width:].T
        scores -= scores.max(axis=1, keepdims=True)  # softmax without overflow
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: List[Message]) -> List[Message]:
        ready = [m for m in messages if "coef" in self._arrays and m.features_present(TEXT)]
        probabilities = self.predict_proba(ready) if ready else np.zeros((0, 0))
        for message in messages:
            message.set("intent", {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
            message.set("intent_ranking", [], add_to_output=True)
        for message, row in zip(ready, probabilities):
            order = np.argsort(-row)[: int(self.config["ranking_length"])]
            ranking = [{INTENT_NAME_KEY: self.labels[i], PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    # -- persistence ---------------------------------------------------------------------------

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / ARRAYS_FILE, **self._arrays)
            (directory / LABELS_FILE).write_text(json.dumps(self.labels))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / ARRAYS_FILE, allow_pickle=False) as stored:
                    arrays = {key: stored[key] for key in stored.files}
                labels = json.loads((directory / LABELS_FILE).read_text())
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier has no trained model in %s; it predicts nothing.", resource.name)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, arrays, labels)


def _unit_rows(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    return scipy.sparse.diags(1.0 / np.maximum(norms, 1e-9)) @ matrix
