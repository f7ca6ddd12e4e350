"""The console's knowledge suggestions, from a real index opened as the action server opens it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from handoff.adapters.knowledge import Suggestions
from knowledge.embed import SentenceTransformerEmbedder
from knowledge.ingest import load_sources
from knowledge.search import KnowledgeBase
from knowledge.settings import KnowledgeSettings
from tests.conftest import ROOT


async def test_suggestions_are_the_closest_articles(embedder: SentenceTransformerEmbedder, corpus: Path,
                                                    tmp_path: Path) -> None:
    built = KnowledgeBase(embedder)
    built.sync(load_sources(corpus))
    built.save(tmp_path / "index")
    settings = KnowledgeSettings(index_dir=tmp_path / "index", encoder_dir=ROOT / "models" / "encoder")
    found = await Suggestions(True, settings).for_text("is delivery free?", k=2)
    assert len(found) == 2 and found[0]["article_id"] == "shipping-costs"
    assert found[0]["text"].startswith("Standard shipping costs") and found[0]["category"] == "shipping"


async def test_without_an_index_suggestions_are_off_with_a_warning(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    # a model that is nowhere: the missing index is found before any model would load
    settings = KnowledgeSettings(model="no-such-model", index_dir=tmp_path / "none")
    with caplog.at_level(logging.WARNING, logger="handoff.adapters.knowledge"):
        assert await Suggestions(True, settings).for_text("is delivery free?") == []
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "knowledge suggestions are off: No knowledge index in" in caplog.records[0].getMessage()

