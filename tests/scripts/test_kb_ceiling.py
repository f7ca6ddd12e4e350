"""The upper bound of answer-or-abstain decisions (scripts/kb_ceiling.py) on made-up scores."""

from __future__ import annotations

import numpy as np
import pytest

from scripts.kb_ceiling import ceiling, view_features


def test_view_features_read_the_best_score_its_lead_and_the_chosen_articles_standing() -> None:
    scores = np.array([[0.9, 0.5, 0.4, 0.3, 0.2, 0.1], [0.6, 0.58, 0.2, 0.2, 0.2, 0.2]])
    top, margin, gap, chosen, chosen_gap = view_features(scores, np.array([0, 1]))
    assert top.tolist() == [0.9, 0.6] and margin == pytest.approx([0.4, 0.02])
    assert gap[0] == pytest.approx(0.9 - 0.35) and chosen.tolist() == [0.9, 0.58]
    assert chosen_gap[1] == pytest.approx(0.58 - 0.295)


def test_the_ceiling_separates_what_a_feature_separates_and_not_what_is_noise() -> None:
    rng = np.random.default_rng(0)
    answerable = np.array([True] * 80 + [False] * 40)
    correct = answerable.copy()
    correct[:8] = False  # 90% of the answerable questions find their article
    telling = np.where(answerable, 1.0, -1.0)[:, None] + rng.normal(0, 0.1, (120, 1))
    clear = ceiling(telling, answerable, correct)
    assert clear["auroc"] > 0.99 and clear["abstain_recall"] == 1.0 and clear["answered_correct"] >= 0.7
    noise = ceiling(rng.normal(0, 1, (120, 3)), answerable, correct)
    assert noise["auroc"] < 0.75 and noise["abstain_recall"] < 0.6
    assert clear["recall_at_1"] == noise["recall_at_1"] == 0.9
