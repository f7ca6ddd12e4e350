"""The analysis of fine-tuning the encoder on the intents (scripts/intent_encoder_tuning.py), without a model."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from scripts.intent_encoder_tuning import auroc, batches, nearest_distance, signals


def test_batches_hold_one_example_per_intent_and_take_every_in_scope_example_once_as_anchor() -> None:
    train = [(f"{intent} {n}", intent) for intent, size in (("a", 9), ("b", 5), ("c", 3), ("d", 1))
             for n in range(size)] + [("weather", "out_of_scope")]
    plan = batches(train, size=2, rng=random.Random(0))
    assert all(len({intent for _, _, intent in batch}) == len(batch) <= 2 for batch in plan)
    anchors = Counter(anchor for batch in plan for anchor, _, _ in batch)
    # "d" has one example and no partner; "out_of_scope" is never an intent to learn; the rest appear once
    eligible = [t for t, i in train if i in {"a", "b", "c"}]
    assert set(anchors) <= set(eligible) and max(anchors.values()) == 1
    assert len(anchors) >= len(eligible) - 1  # at most the last example of the largest intent lacks a batch-mate
    for batch in plan:
        for anchor, positive, intent in batch:
            assert positive != anchor and positive.split()[0] == anchor.split()[0] == intent


def test_nearest_distance_can_skip_each_reference_itself() -> None:
    references = np.eye(3)
    assert nearest_distance(references, references, k=1) == pytest.approx([0, 0, 0])
    assert nearest_distance(references, references, k=1, exclude_self=True) == pytest.approx([1, 1, 1])


def test_auroc_counts_pairs_and_ties_half() -> None:
    positive = np.array([True, True, False, False])
    assert auroc(positive, np.array([0.9, 0.8, 0.1, 0.2])) == 1.0
    assert auroc(positive, np.array([0.1, 0.2, 0.9, 0.8])) == 0.0
    assert auroc(positive, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_signals_score_held_out_intents_far_from_the_training_examples() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(8)
    train, vectors = [], []
    for c in range(4):
        for n in range(20):
            train.append((f"intent{c} word{n} token{c}", f"i{c}"))
            vectors.append(centres[c] + 0.1 * rng.normal(size=8))
    test = [(f"intent{c} word{n} token{c}", f"i{c}") for c in range(4) for n in range(3)]
    test_vectors = [centres[c] + 0.1 * rng.normal(size=8) for c in range(4) for _ in range(3)]
    test += [(f"unrelated thing {n}", "out_of_scope") for n in range(6)]
    test_vectors += [centres[5 + n % 3] + 0.1 * rng.normal(size=8) for n in range(6)]

    def unit(rows: list[np.ndarray]) -> np.ndarray:
        matrix = np.array(rows)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    result = signals(train, test, unit(vectors), unit(test_vectors))
    assert result["accuracy_embedding"] == result["accuracy_ngrams_embedding"] == 1.0
    assert result["auroc_distance"] == 1.0 and result["handoff_recall_distance"] == 1.0
    assert result["in_scope_handed_off_distance"] <= 0.25 and result["auroc_confidence"] > 0.5
