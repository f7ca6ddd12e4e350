from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from knowledge.documents import Article, ArticleId
from knowledge.embed import SentenceTransformerEmbedder
from knowledge.errors import ArticleNotFound, IndexNotBuilt
from knowledge.ingest import load_sources
from knowledge.search import KnowledgeBase


@pytest.fixture
def kb(embedder: SentenceTransformerEmbedder, corpus: Path) -> KnowledgeBase:
    base = KnowledgeBase(embedder)
    base.sync(load_sources(corpus))
    return base


def test_search_finds_the_answering_article_with_its_version(kb: KnowledgeBase, corpus: Path) -> None:
    hits = kb.search("how much does delivery cost?")
    assert hits[0].article_id == "shipping-costs"
    assert hits[0].version == {a.id: a.version for a in load_sources(corpus)}["shipping-costs"]
    assert hits[0].answer.startswith("Standard shipping costs")
    assert hits[0].score > hits[1].score


def test_search_filters_by_category_and_tags(kb: KnowledgeBase) -> None:
    assert [h.article_id for h in kb.search("account", category="privacy")] == ["delete-account"]
    assert {h.article_id for h in kb.search("account", tags=["account"])} == {"delete-account", "password-reset"}
    assert kb.search("account", tags=["account", "nope"]) == []


def test_min_score_drops_weak_matches(kb: KnowledgeBase) -> None:
    assert kb.search("what is the capital of Peru?", min_score=0.5) == []


def test_sync_embeds_only_what_changed_and_retires_what_is_gone(kb: KnowledgeBase, corpus: Path) -> None:
    path = corpus / "returns/returns-window.md"
    path.write_text(path.read_text().replace("30 days", "45 days"))
    (corpus / "privacy/delete-account.md").unlink()
    vectors_before = len(kb.index)
    report = kb.sync(load_sources(corpus))
    assert report.changed == ["returns-window"]
    assert report.retired == ["delete-account"]
    assert report.added == [] and report.unchanged == 2
    assert "45 days" in kb.search("return policy")[0].answer
    assert all(h.article_id != "delete-account" for h in kb.search("delete my account"))
    assert len(kb.index) < vectors_before


def test_upsert_and_retire_one_article(kb: KnowledgeBase) -> None:
    article = Article(ArticleId("gift-cards"), "Gift cards", "Brightwood gift cards never expire.", category="products")
    assert kb.upsert(article) == "added"
    assert kb.upsert(article) == "unchanged"
    assert kb.upsert(dataclasses.replace(article, body="Gift cards expire after 5 years.")) == "changed"
    assert kb.search("do gift cards expire")[0].answer == "Gift cards expire after 5 years."
    kb.retire("gift-cards")
    with pytest.raises(ArticleNotFound, match="gift-cards"):
        kb.retire("gift-cards")


def test_articles_without_category_or_tags_get_predicted_ones(kb: KnowledgeBase) -> None:
    kb.upsert(Article(ArticleId("express-abroad"), "Express shipping abroad",
                      "Express shipping to Canada and Australia takes 3-4 business days and costs $29."))
    stored = kb.store.get("express-abroad")
    assert stored.article.category == "shipping"
    assert stored.predicted_category
    assert stored.article.tags  # suggested from the text
    assert kb.upsert(Article(ArticleId("express-abroad"), "Express shipping abroad",
                             "Express shipping to Canada and Australia takes 3-4 business days and costs $29.")) \
        == "unchanged"


def test_near_duplicates_are_reported(kb: KnowledgeBase) -> None:
    kb.upsert(Article(ArticleId("returns-window-old"), "Return period",
                      "Unworn items can be returned within 30 days of delivery for a full refund.",
                      category="returns", questions=("What is your returns policy?",)))
    pairs = kb.duplicates(threshold=0.8)
    assert [(p.first, p.second) for p in pairs][:1] == [("returns-window", "returns-window-old")]
    assert all(p.similarity >= 0.8 for p in pairs)


def test_save_and_load_round_trip(kb: KnowledgeBase, tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    kb.save(tmp_path / "index")
    loaded = KnowledgeBase.load(tmp_path / "index", embedder)
    assert loaded.search("reset my password")[0] == kb.search("reset my password")[0]
    assert loaded.stats()["articles"] == 4


def test_loading_a_missing_index_says_how_to_build_it(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(IndexNotBuilt, match="python -m knowledge build"):
        KnowledgeBase.load(tmp_path, embedder)


def test_auto_index_switches_to_hnsw_past_the_threshold(embedder: SentenceTransformerEmbedder, corpus: Path) -> None:
    kb = KnowledgeBase(embedder, index_kind="auto", hnsw_threshold=10)
    kb.sync(load_sources(corpus))
    assert kb.index.kind == "hnsw"
    assert kb.search("how much does delivery cost?")[0].article_id == "shipping-costs"
