"""The ONNX query encoder against the PyTorch model that builds the index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.embed import SentenceTransformerEmbedder, query_embedder
from knowledge.encoder import OnnxEmbedder
from knowledge.errors import IndexNotBuilt
from knowledge.ingest import load_sources
from knowledge.search import KnowledgeBase, open_for_queries
from knowledge.settings import KnowledgeSettings

QUERIES = ["How long does standard shipping take?", "hi", "Is there a warranty on headphones?",
           "I ordered a blue jacket three weeks ago, it still has not arrived and nobody answers my e-mails!!"]


@pytest.fixture(scope="module")
def exported(embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("encoder")
    embedder.export_onnx(folder)
    return folder


def test_onnx_vectors_match_pytorch_to_1e_5_cosine(embedder: SentenceTransformerEmbedder, exported: Path) -> None:
    onnx = OnnxEmbedder(exported, batch_size=2)  # batches of mixed lengths: padding must not leak in
    together, alone = onnx.encode(QUERIES), np.vstack([onnx.encode([q]) for q in QUERIES])
    reference = embedder.encode(QUERIES)
    assert together.dtype == np.float32 and together.shape == (len(QUERIES), embedder.dimension)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert (together * reference).sum(axis=1).min() > 1 - 1e-5
    assert (alone * reference).sum(axis=1).min() > 1 - 1e-5
    assert onnx.encode([]).shape == (0, embedder.dimension)


def test_an_index_built_with_pytorch_answers_onnx_queries_alike(embedder: SentenceTransformerEmbedder,
                                                               exported: Path, corpus: Path,
                                                               tmp_path: Path) -> None:
    built = KnowledgeBase(embedder)
    built.sync(load_sources(corpus))
    built.save(tmp_path / "index")
    served = open_for_queries(KnowledgeSettings(model=embedder.name, index_dir=tmp_path / "index",
                                                encoder_dir=exported))
    assert isinstance(served.embedder, OnnxEmbedder)
    for query in QUERIES:
        hits, expected = served.search(query), built.search(query)
        assert [h.article_id for h in hits] == [h.article_id for h in expected]
        assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=2e-4)  # rounded to 1e-4


def test_without_an_export_of_that_model_queries_use_pytorch(exported: Path, tmp_path: Path) -> None:
    assert isinstance(query_embedder("all-MiniLM-L6-v2", tmp_path / "nothing-here"), SentenceTransformerEmbedder)
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((exported / "encoder.json").read_text())
    (other / "encoder.json").write_text(json.dumps({**meta, "model": "some-other-model"}))
    assert isinstance(query_embedder("all-MiniLM-L6-v2", other), SentenceTransformerEmbedder)


def test_opening_for_queries_checks_the_index_before_loading_any_model(tmp_path: Path) -> None:
    # a model that is nowhere: had it been loaded first, the error would be about the model
    settings = KnowledgeSettings(model="no-such-model", index_dir=tmp_path / "none", encoder_dir=tmp_path)
    with pytest.raises(IndexNotBuilt, match=r"No knowledge index in .*none: run `python -m knowledge build` first"):
        open_for_queries(settings)
