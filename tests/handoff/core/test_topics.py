"""Topics from hand-built texts with known groups, embedded by the real local encoder (models/encoder)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from handoff.adapters.text_models import SentenceEncoder
from handoff.core.topics import category_of, distinctive_words, find_topics, nearest_topic
from handoff.settings import HandoffSettings

GROUPS = {
    "refund": ["I want my refund for the returned jacket", "Where is my refund? I sent the shoes back weeks ago",
               "The refund for my return has not arrived", "Still waiting on a refund for the returned item",
               "How long does a refund take after a return", "My refund was never paid after I returned the dress",
               "You received my return but I have no refund", "Refund missing for returned boots"],
    "password": ["I cannot log in, my password does not work", "Password reset email never comes",
                 "Locked out of my account after a password reset", "I forgot my password and the reset link fails",
                 "My account password is rejected every time", "Reset password link expired, cannot sign in",
                 "Login fails with the new password", "I can't get into my account, password reset broken"],
    "parcel": ["My parcel has not been delivered yet", "The courier says delivered but no parcel here",
               "Where is my parcel? Tracking has not moved", "Parcel stuck in transit for ten days",
               "My delivery never arrived, the parcel is lost", "Tracking shows the parcel at the depot for a week",
               "The parcel delivery is late again", "No parcel, the delivery date passed"],
}


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(HandoffSettings().insights_encoder)


def test_topics_recover_hand_built_groups_with_their_words_and_examples(encoder: SentenceEncoder) -> None:
    texts = [text for group in GROUPS.values() for text in group]
    truth = [name for name, group in GROUPS.items() for _ in group]
    found = find_topics(texts, encoder.encode(texts), max_topics=6)

    assert len(found) == 3
    for topic in found:
        names = Counter(truth[i] for i in topic.members)
        name, count = names.most_common(1)[0]
        assert count == len(topic.members) == 8, names  # each cluster is one whole group
        assert name in topic.keywords[:2], topic.keywords  # labelled by its distinctive word
        assert name in topic.label
        assert len(topic.examples) == 3 and all(truth[i] == name for i in topic.examples)
        assert abs(float(np.linalg.norm(topic.centroid)) - 1) < 1e-5


def test_topics_of_few_texts_are_one_and_of_none_are_none(encoder: SentenceEncoder) -> None:
    texts = ["refund please", "where is my refund", "refund not paid"]
    (only,) = find_topics(texts, encoder.encode(texts))
    assert only.members == (0, 1, 2) and "refund" in only.keywords
    same = ["a person please"] * 7 + ["my refund is late"]  # seven times one text is one point: no more than 2
    assert [len(t.members) for t in find_topics(same, encoder.encode(same))] == [7, 1]
    assert [len(t.members) for t in find_topics(same[:7], encoder.encode(same[:7]))] == [7]
    assert find_topics([], np.zeros((0, 384), np.float32)) == []
    with pytest.raises(ValueError):
        find_topics(["a"], np.zeros((2, 384), np.float32))


def test_distinctive_words_weigh_down_words_every_cluster_has() -> None:
    texts = ["order refund refund", "order refund", "order parcel parcel", "order parcel late"]
    words = distinctive_words(texts, [0, 0, 1, 1])
    assert words[0][0] == "refund" and words[1][0] == "parcel"
    assert all("hello" not in w for w in distinctive_words(["hello refund", "hello parcel"], [0, 1]).values())


def test_a_topic_stands_for_a_category_only_when_confident() -> None:
    assert category_of(["payments"] * 7 + ["orders"] * 3).category == "payments"  # 70 % of 10
    assert category_of(["payments"] * 6 + ["orders"] * 4).category is None  # 60 %
    assert category_of(["payments"] * 9).category is None  # too few tickets
    match = category_of(["payments"] * 9 + [None] * 20)
    assert (match.category, match.share, match.tickets) == (None, 1.0, 9)
    assert category_of([None, None]).tickets == 0


def test_the_nearest_topic_only_when_similar_enough() -> None:
    centroids = np.asarray([[1, 0, 0], [0, 1, 0]], np.float32)
    assert nearest_topic(np.asarray([0.1, 0.9, 0], np.float32), centroids, 0.8) == 1
    assert nearest_topic(np.asarray([0.7, 0.7, 0.1], np.float32), centroids, 0.8) is None
    assert nearest_topic(np.asarray([1, 0, 0], np.float32), np.zeros((0, 3), np.float32), 0.1) is None
