"""Each message's sentiment (the real VADER lexicon) and a conversation's trend."""

from __future__ import annotations

import pytest

from handoff.adapters.text_models import Sentiment
from handoff.core.sentiment import direction, label, smooth, trend


@pytest.mark.parametrize(("text", "expected"), [
    ("Thank you so much, that was really helpful!", "positive"),
    ("Great, it works now. Perfect.", "positive"),
    ("This is ridiculous, the worst service I have ever had.", "negative"),
    ("I am angry, my order is broken and nobody helps.", "negative"),
    ("My order number is 10023.", "neutral"),
    ("Where is my parcel?", "neutral"),
])
def test_sentiment_of_known_sentences(text: str, expected: str) -> None:
    assert label(Sentiment().score(text)) == expected


def test_the_trend_smooths_and_says_where_it_heads() -> None:
    assert smooth([-1.0, 1.0, 1.0]) == [-1.0, 0.0, 0.5]
    assert direction([-0.8, -0.2]) == "improving"
    assert direction([0.4, 0.1]) == "worsening"
    assert direction([0.1, 0.2]) == "steady"
    assert direction([0.5]) == "steady"
    calm = Sentiment()
    scores = [calm.score(t) for t in ("This is useless, I am furious.", "Still nothing, terrible.",
                                      "OK, that helps.", "Thank you, great, it works!")]
    result = trend(scores)
    assert result["direction"] == "improving" and result["scores"] == [round(s, 3) for s in scores]
    assert len(result["smoothed"]) == 4 and result["last"] == result["smoothed"][-1]
    assert trend([])["direction"] == "steady" and trend([])["mean"] is None
