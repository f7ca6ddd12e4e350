"""Dense sentence features from the knowledge base's embedding model.

The model (all-MiniLM-L6-v2 by default) is exported to ONNX by
``python -m knowledge export-encoder`` and run here with onnxruntime, with the
same mean pooling and L2 normalisation as sentence-transformers. The bot and
the knowledge base therefore share one embedding space, and the Rasa
environment needs neither PyTorch nor a download.

Each parsed message also carries its vector in the parse data, so the action
server searches the knowledge base without encoding the text a second time:

    "text_embedding": {"model": "all-MiniLM-L6-v2", "dimension": 384,
                       "vector": "<base64 of 384 little-endian float32>"}

Base64 keeps it one short string (2 KB) in each stored user event, cheap to
(de)serialise with the tracker; float32 keeps it exact. The action server uses
it only when ``model`` and ``dimension`` are its index's (actions/signals.py).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a sentence embedding of each message's text as dense sentence features."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # Folder written by `python -m knowledge export-encoder`:
            # model.onnx, tokenizer.json and encoder.json.
            "encoder": "models/encoder",
            # Texts encoded per batch while featurizing training data.
            "batch_size": 64,
            # onnxruntime threads per message; 1 keeps concurrent conversations
            # from competing for cores.
            "threads": 1,
            # Parse data key under which each parsed message's vector is passed
            # on to the action server; empty to leave it out.
            "output_key": "text_embedding",
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["onnxruntime", "tokenizers"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        folder = Path(config["encoder"])
        for name in ("model.onnx", "tokenizer.json", "encoder.json"):
            if not (folder / name).exists():
                raise RasaException(
                    f"Sentence encoder file {folder / name} is missing: run "
                    f"`python -m knowledge export-encoder --out {folder}` (make does this)."
                )

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(config["encoder"])
        meta = json.loads((folder / "encoder.json").read_text())
        self.model_name = str(meta["model"])
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(meta.get("max_seq_length", 256)))
        self._tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(config["threads"])
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    def encode(self, texts: List[Text]) -> np.ndarray:
        """Unit-length sentence vectors, one row per text."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)

    def _featurize(self, messages: List[Message], output_key: Text = "") -> None:
        batch_size = int(self._config["batch_size"])
        todo = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            vectors = self.encode([m.get(TEXT) for m in batch]).astype(np.float32)
            for message, vector in zip(batch, vectors):
                self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)
                if output_key:
                    message.set(output_key, self.as_output(vector), add_to_output=True)
            if len(todo) > 5 * batch_size and (start // batch_size) % 20 == 0:
                logger.info("sentence encoder: %d/%d training texts", start + len(batch), len(todo))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def as_output(self, vector: np.ndarray) -> Dict[Text, Any]:
        """``vector`` as the parse data carries it (see the module docstring)."""
        raw = np.ascontiguousarray(vector, dtype="<f4").tobytes()
        return {"model": self.model_name, "dimension": self.dimension, "vector": base64.b64encode(raw).decode("ascii")}

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages, str(self._config["output_key"] or ""))
        return messages


__all__ = ["SentenceEncoderFeaturizer"]
