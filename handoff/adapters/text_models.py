"""The local text models of the insights: a sentiment lexicon and the sentence encoder.

- Sentiment: VADER (vaderSentiment, MIT), a lexicon and rules tuned to short informal text, the same the
  bot's sentiment component scores with (``bot/components/sentiment.py``, in the Rasa environment, which the
  service may not import); its compound score in [-1, 1] for each message. No model file, no network.
- Sentences: the knowledge base's encoder (all-MiniLM-L6-v2, exported to ONNX by
  ``python -m knowledge export-encoder`` into ``models/encoder/``, ``HANDOFF_INSIGHTS_ENCODER``), run by
  :class:`knowledge.encoder.OnnxEmbedder`, the one implementation the bot and the knowledge base share:
  unit-length 384-dimension vectors (or, for a shop in Chinese, a folder naming the multilingual model,
  ``models/encoder_zh``, run by :class:`knowledge.encoder.UseEmbedder`: 512 dimensions). Loaded on first
  use, in the caller's thread (the service calls it from a worker thread); a missing export raises
  :class:`~handoff.core.errors.UpstreamUnavailable` naming the folder.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from handoff.core.errors import UpstreamUnavailable


class Sentiment:
    """VADER's compound polarity of a text, in [-1, 1]."""

    @cached_property
    def _vader(self):  # type: ignore[no-untyped-def]
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        return SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        return float(self._vader.polarity_scores(text)["compound"])


class SentenceEncoder:
    """Unit-length sentence vectors from the export in ``folder`` (:func:`knowledge.encoder.load_encoder`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._embedder: object | None = None

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        from knowledge.encoder import OnnxEmbedder, UseEmbedder, load_encoder, missing_files

        with self._lock:
            if self._embedder is None:
                if missing := missing_files(self.folder):
                    raise UpstreamUnavailable(f"The sentence encoder is missing ({missing[0]}): run "
                                             "`python -m knowledge export-encoder` first.")
                self._embedder = load_encoder(self.folder, threads=1)
            embedder = self._embedder
        assert isinstance(embedder, OnnxEmbedder | UseEmbedder)
        if not texts:
            return np.zeros((0, embedder.dimension), dtype=np.float32)
        return embedder.encode(texts)
