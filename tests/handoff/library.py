"""A knowledge workbench library on a copy of the repository's knowledge base (data/knowledge, models/knowledge)
in a temporary folder: tests that publish never write into the repository."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from handoff.adapters.knowledge import Library
from knowledge.encoder import OnnxEmbedder
from knowledge.settings import KnowledgeSettings
from tests.conftest import ROOT


@functools.cache
def encoder() -> OnnxEmbedder:
    """The model's ONNX export (models/encoder), loaded once per test process."""
    folder = ROOT / "models" / "encoder"
    if not (folder / "model.onnx").exists():
        raise RuntimeError(f"no ONNX encoder in {folder}: run `make models` first")
    return OnnxEmbedder(folder)


def knowledge_copy(folder: Path) -> KnowledgeSettings:
    """Settings of a copy of the knowledge sources and index under ``folder`` (checked at every query)."""
    index = ROOT / "models" / "knowledge"
    if not (index / "meta.json").exists():
        raise RuntimeError(f"no knowledge index in {index}: run `make models` first")
    shutil.copytree(ROOT / "data" / "knowledge", folder / "sources")
    shutil.copytree(index, folder / "index", ignore=shutil.ignore_patterns(".lock"))
    return KnowledgeSettings(sources=folder / "sources", index_dir=folder / "index",
                             encoder_dir=ROOT / "models" / "encoder", reload_interval=0.0)


def library_copy(folder: Path) -> Library:
    """A :class:`Library` over :func:`knowledge_copy` with the shared encoder."""
    return Library(knowledge_copy(folder), embedder=encoder())
