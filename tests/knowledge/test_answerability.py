"""Answer or abstain: the calibrated rule on a small real knowledge base (real encoder, real FAISS)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from knowledge.answerability import FILE, Answerability
from knowledge.documents import Article, ArticleId
from knowledge.embed import SentenceTransformerEmbedder
from knowledge.search import KnowledgeBase

MIN_SCORE = 0.55

# A shop's help centre: each article with the ways customers ask for it (its own questions).
HELP_CENTRE = {
    "shipping-costs": ("Shipping costs", "Standard shipping costs $4.95 and is free on orders over $50.",
                       ("How much is delivery?", "Is shipping free?", "What does postage cost?")),
    "delivery-time": ("Delivery times", "Standard parcels arrive in 3-5 business days, express in 1-2.",
                      ("When will my parcel arrive?", "How long does delivery take?", "How fast is express?")),
    "returns-window": ("Returning an item", "You can return unworn items within 30 days of delivery.",
                       ("What is your return policy?", "Can I send back shoes I bought last month?",
                        "How many days do I have to return something?")),
    "refund-time": ("Refund times", "Refunds reach your card 5-10 days after we receive the return.",
                    ("When do I get my money back?", "How long do refunds take?", "Where is my refund?")),
    "password-reset": ("Resetting your password", "Click Forgot password on the sign-in page.",
                       ("I forgot my password", "How do I change my password?", "I cannot log in")),
    "delete-account": ("Deleting your account", "Delete your account under Settings > Privacy.",
                       ("How do I close my account?", "Remove my profile and data",
                        "Can I delete my account?")),
    "gift-cards": ("Gift cards", "Brightwood gift cards never expire and work online and in stores.",
                   ("Do gift cards expire?", "Can I use a gift card in a store?", "Where do I buy a gift card?")),
    "store-hours": ("Store opening hours", "Our stores open 9am-8pm Monday to Saturday, 10am-5pm on Sunday.",
                    ("When are you open?", "Are shops open on Sunday?", "What time does the store close?")),
    "size-guide": ("Size guide", "Our shoes run true to size; see the size chart on each product page.",
                   ("What size should I order?", "Do the shoes run small?", "Where is the size chart?")),
    "newsletter": ("Newsletter", "Subscribe at the bottom of any page for 10% off your first order.",
                   ("How do I subscribe to emails?", "Is there a discount for signing up?",
                    "How do I stop marketing emails?")),
}


def articles(leave_out: str | None = None) -> list[Article]:
    return [Article(ArticleId(key), title, body, questions=questions)
            for key, (title, body, questions) in HELP_CENTRE.items() if key != leave_out]


@pytest.fixture(scope="module")
def calibrated(embedder: SentenceTransformerEmbedder) -> KnowledgeBase:
    kb = KnowledgeBase(embedder)
    kb.sync(articles())
    assert kb.calibrate() is not None
    return kb


def verdict_for(kb: KnowledgeBase, question: str) -> tuple[str, bool, str]:
    hits = kb.search(question, k=5)
    verdict = kb.verdict([h.score for h in hits], MIN_SCORE)
    return hits[0].article_id, verdict.answer, verdict.rule


def test_answerability_an_answerable_question_is_answered_with_its_article(calibrated: KnowledgeBase) -> None:
    assert verdict_for(calibrated, "how much do you charge for delivery?") == ("shipping-costs", True, "calibrated")
    assert verdict_for(calibrated, "my gift card, does it run out?")[:2] == ("gift-cards", True)


def test_answerability_an_unrelated_question_is_abstained(calibrated: KnowledgeBase) -> None:
    assert verdict_for(calibrated, "who will win the football tonight?")[1:] == (False, "calibrated")


def test_answerability_a_question_whose_article_is_missing_is_abstained(embedder: SentenceTransformerEmbedder) -> None:
    kb = KnowledgeBase(embedder)
    kb.sync(articles(leave_out="gift-cards"))
    kb.calibrate()
    # near the returns and newsletter articles, but nothing left answers it
    assert verdict_for(kb, "do gift vouchers have an expiry date?")[1:] == (False, "calibrated")
    assert verdict_for(kb, "what is your return policy for shoes?")[:2] == ("returns-window", True)


def test_answerability_calibration_is_saved_with_the_index_and_loaded(calibrated: KnowledgeBase, tmp_path: Path,
                                                                     embedder: SentenceTransformerEmbedder) -> None:
    calibrated.save(tmp_path)
    assert (tmp_path / FILE).exists()
    loaded = KnowledgeBase.load(tmp_path, embedder)
    assert loaded.answerability == calibrated.answerability
    scores = [h.score for h in calibrated.search("is postage free?")]
    assert loaded.verdict(scores, MIN_SCORE) == calibrated.verdict(scores, MIN_SCORE)
    training = loaded.answerability.training if loaded.answerability else {}
    assert training["sources"] == 40 and training["unanswerable"] > training["answerable"] > 0


def test_answerability_an_index_built_before_it_falls_back_to_the_threshold(
        calibrated: KnowledgeBase, tmp_path: Path, embedder: SentenceTransformerEmbedder,
        caplog: pytest.LogCaptureFixture) -> None:
    calibrated.save(tmp_path)
    (tmp_path / FILE).unlink()  # what an index written before the calibration existed looks like
    with caplog.at_level(logging.WARNING, logger="knowledge.search"):
        old = KnowledgeBase.load(tmp_path, embedder)
    assert old.answerability is None
    assert "no answerability calibration" in caplog.text and "KB_MIN_SCORE" in caplog.text
    verdict = old.verdict([0.6, 0.58], MIN_SCORE)
    assert (verdict.answer, verdict.rule, verdict.threshold) == (True, "threshold", MIN_SCORE)
    assert old.verdict([0.5], MIN_SCORE).answer is False


def test_answerability_a_knowledge_base_too_small_to_calibrate_keeps_the_threshold(
        embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    kb = KnowledgeBase(embedder)
    kb.sync(articles()[:1])
    assert kb.calibrate() is None
    kb.save(tmp_path)
    assert not (tmp_path / FILE).exists()
    assert kb.verdict([0.9], MIN_SCORE).rule == "threshold"


def test_answerability_a_file_of_another_format_is_ignored(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text('{"format": 99, "features": ["top_score"]}')
    assert Answerability.load(tmp_path / FILE) is None
