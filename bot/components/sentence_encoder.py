"""Dense sentence features from the knowledge base's embedding model.

The model (all-MiniLM-L6-v2 by default) is exported to ONNX by
``python -m knowledge export-encoder`` and run here by
:class:`knowledge.encoder.OnnxEmbedder`, the one implementation of the encoding
(onnxruntime, then the same mean pooling and L2 normalisation as
sentence-transformers) that the action server also uses. The bot and the
knowledge base therefore share one embedding space, and the Rasa environment
needs neither PyTorch nor a download. An assistant in another language points
``encoder`` at a folder naming the multilingual model instead (``config_zh.yml``:
``models/encoder_zh``, universal-sentence-encoder-multilingual v3 run by
:class:`knowledge.encoder.UseEmbedder`); :func:`knowledge.encoder.load_encoder`
opens either. ``knowledge.encoder`` is the only module
of ours that bot/ may import: it needs nothing but numpy, onnxruntime and
tokenizers (tests/test_boundaries.py).

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

from knowledge.encoder import load_encoder, missing_files

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a sentence embedding of each message's text as dense sentence features."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # Folder written by `python -m knowledge export-encoder`:
            # model.onnx, tokenizer.json and encoder.json (or, for the
            # multilingual model, an encoder.json naming it).
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
        missing = missing_files(folder)
        if missing:
            raise RasaException(
                f"Sentence encoder file {missing[0]} is missing: run "
                f"`python -m knowledge export-encoder --out {folder}` (make does this; with "
                f"KB_MODEL=use-multilingual for the multilingual model)."
            )

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._encoder = load_encoder(Path(config["encoder"]), int(config["batch_size"]), int(config["threads"]))
        self.model_name = self._encoder.name
        self.dimension = self._encoder.dimension

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    def encode(self, texts: List[Text]) -> np.ndarray:
        """Unit-length float32 sentence vectors, one row per text."""
        return self._encoder.encode(list(texts))

    def _featurize(self, messages: List[Message], output_key: Text = "") -> None:
        batch_size = int(self._config["batch_size"])
        todo = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            vectors = self.encode([m.get(TEXT) for m in batch])
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
