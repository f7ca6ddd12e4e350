"""Live updates (knowledge.live): a published generation is what a running search object answers with, within
its check interval, without a restart; searches already running keep the generation they started with."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.documents import Article, ArticleId
from knowledge.embed import CachingEmbedder, SentenceTransformerEmbedder
from knowledge.ingest import load_sources
from knowledge.live import GENERATIONS, KEEP, LiveKnowledgeBase, locked, publish
from knowledge.search import KnowledgeBase

GIFT_CARDS = Article(ArticleId("gift-cards"), "Gift cards", "Brightwood gift cards never expire.",
                     category="products", questions=("Do gift cards expire?",))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def index(embedder: SentenceTransformerEmbedder, corpus: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "index"
    kb = KnowledgeBase(embedder)
    kb.sync(load_sources(corpus))
    with locked(directory):
        assert publish(kb, directory) == 1
    return directory


def change(directory: Path, embedder: SentenceTransformerEmbedder, edit: str, article: Article) -> int:
    """What a writer does: load under the lock, change, publish."""
    with locked(directory):
        kb = KnowledgeBase.load(directory, embedder)
        kb.retire(article.id) if edit == "retire" else kb.upsert(article)
        return publish(kb, directory)


def test_a_running_search_object_sees_a_published_article_after_its_interval(
        index: Path, embedder: SentenceTransformerEmbedder) -> None:
    clock = Clock()
    live = LiveKnowledgeBase(index, embedder, interval=2.0, clock=clock)
    assert live.current().generation == 1
    assert live.current().search("do gift cards expire")[0].article_id != "gift-cards"

    assert change(index, embedder, "upsert", GIFT_CARDS) == 2
    clock.now = 1.0  # within the interval: not looked at yet
    assert live.current().generation == 1
    clock.now = 2.0
    hit = live.current().search("do gift cards expire")[0]
    assert (hit.article_id, hit.version, live.current().generation) == ("gift-cards", GIFT_CARDS.version, 2)

    edited = dataclasses.replace(GIFT_CARDS, body="Brightwood gift cards expire after five years.")
    change(index, embedder, "upsert", edited)
    clock.now = 4.0
    hit = live.current().search("do gift cards expire")[0]
    assert hit.version == edited.version != GIFT_CARDS.version and "five years" in hit.answer

    change(index, embedder, "retire", edited)
    clock.now = 6.0
    assert all(h.article_id != "gift-cards" for h in live.current().search("do gift cards expire"))


def test_a_search_in_flight_keeps_its_generation(index: Path, embedder: SentenceTransformerEmbedder) -> None:
    clock = Clock()
    live = LiveKnowledgeBase(index, embedder, interval=0.0, clock=clock)
    started = live.current()  # a query holds the knowledge base it began with
    change(index, embedder, "upsert", GIFT_CARDS)
    assert live.current() is not started and live.current().generation == 2
    assert started.generation == 1 and started.search("how much is delivery")[0].article_id == "shipping-costs"
    assert "gift-cards" not in started.store


def test_searching_threads_never_fail_while_generations_are_published(
        index: Path, embedder: SentenceTransformerEmbedder) -> None:
    live = LiveKnowledgeBase(index, embedder, interval=0.0)
    failures: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                assert live.current().search("how much is delivery")[0].article_id == "shipping-costs"
            except BaseException as exc:
                failures.append(exc)
                return

    threads = [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    for n in range(6):
        change(index, embedder, "upsert", dataclasses.replace(GIFT_CARDS, body=f"Gift cards last {n + 1} years."))
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert live.current().store.get("gift-cards").article.body == "Gift cards last 6 years."


def test_the_pointer_names_the_generation_and_old_ones_are_pruned(
        index: Path, embedder: SentenceTransformerEmbedder) -> None:
    for n in range(KEEP + 1):
        change(index, embedder, "upsert", dataclasses.replace(GIFT_CARDS, body=f"Gift cards last {n + 1} years."))
    meta = json.loads((index / "meta.json").read_text())
    assert meta["generation"] == KEEP + 2 and meta["path"] == f"{GENERATIONS}/{KEEP + 2:06d}"
    assert sorted(p.name for p in (index / GENERATIONS).iterdir()) == [f"{n:06d}" for n in range(3, KEEP + 3)]
    assert not (index / "index.faiss").exists()  # only the generations hold files
    assert KnowledgeBase.load(index, embedder).generation == KEEP + 2


def test_the_flat_layout_is_still_read_and_a_broken_generation_keeps_the_old(
        embedder: SentenceTransformerEmbedder, corpus: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    kb = KnowledgeBase(embedder)
    kb.sync(load_sources(corpus))
    kb.save(flat)
    live = LiveKnowledgeBase(flat, embedder, interval=0.0)
    assert live.current().generation == 0 and len(live.current().store) == 4
    meta = json.loads((flat / "meta.json").read_text())
    (flat / "meta.json").write_text(json.dumps({**meta, "generation": 9, "path": "generations/000009"}))
    assert live.refresh() is False  # logged; the old generation keeps answering
    assert live.current().search("how much is delivery")[0].article_id == "shipping-costs"


def test_a_writer_s_caching_embedder_embeds_each_text_once_with_the_same_vectors(
        embedder: SentenceTransformerEmbedder) -> None:
    class Counting:
        name, dimension = embedder.name, embedder.dimension

        def __init__(self) -> None:
            self.texts: list[str] = []

        def encode(self, texts: list[str], progress: bool = False) -> Any:
            self.texts += texts
            return embedder.encode(texts)

    counting = Counting()
    cached = CachingEmbedder(counting, size=3)
    first = cached.encode(["gift cards", "refunds", "gift cards"])
    again = cached.encode(["refunds", "gift cards"])
    assert counting.texts == ["gift cards", "refunds"]
    assert np.allclose(again, first[[1, 0]]) and np.allclose(first[0], embedder.encode(["gift cards"])[0], atol=1e-6)
    cached.encode(["a", "b"])  # past its size: it starts over
    cached.encode(["refunds"])
    assert counting.texts[-1] == "refunds" and cached.encode([]).shape == (0, embedder.dimension)
