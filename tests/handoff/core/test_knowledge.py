"""The knowledge workbench's rules: a suggested id, a draft made of agents' replies, staleness, the helpful
rate (the article checks are specified with the service: tests/handoff/service/test_knowledge.py)."""

from __future__ import annotations

from datetime import date

from handoff.core.knowledge import check_article, draft_body, helpful_rate, slug, stale


def test_a_question_suggests_an_id() -> None:
    assert slug("Do you ship to Mars?") == "do-you-ship-to-mars"
    assert slug("Können Sie nach Zürich liefern?") == "konnen-sie-nach-zurich-liefern"
    assert slug("??") == "article"
    assert len(slug("word " * 40)) <= 60


def test_the_draft_is_the_agents_distinct_replies_longest_first() -> None:
    replies = ["Yes.", "Yes, by rocket: $99.", "yes.", "  ", "Yes, by rocket: $99."]
    assert draft_body(replies) == "Yes, by rocket: $99.\n\nYes."
    assert draft_body([]) == ""


def test_an_article_is_stale_past_its_review_date_or_when_not_updated_for_long() -> None:
    today = date(2026, 12, 5)
    assert stale("2026-12-04", "2026-12-01", today, 365) == "review_by"
    assert stale("2026-12-05", "2026-12-01", today, 365) is None
    assert stale("", "2025-12-04", today, 365) == "not_updated"
    assert stale("", "", today, 365) == "not_updated"
    assert stale("", "2026-06-01", today, 365) is None


def test_the_helpful_rate_is_none_without_votes() -> None:
    assert helpful_rate(2, 3) == 0.667 and helpful_rate(0, 0) is None


def test_a_checked_article_is_cleaned() -> None:
    article = check_article({"id": "gift-wrap", "category": "orders", "title": "  Gift\nwrap ",
                             "body": "Red.\r\n\r\nGreen.  ", "questions": ["Wrap?", "Wrap?", " "],
                             "tags": ["Gifts", "gifts"], "review_by": "2027-01-31"})
    assert (article.title, article.body, article.questions, article.tags) == (
        "Gift wrap", "Red.\n\nGreen.", ("Wrap?",), ("gifts",))
