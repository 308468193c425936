"""A tiny deterministic embedder for fast tests that do not need the real model's judgement."""

from __future__ import annotations

import hashlib
import re

import numpy as np


class HashingEmbedder:
    """Bag of hashed lower-case words, L2-normalised: equal words give similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "hashing-test") -> None:
        self.dimension = dimension
        self.name = name
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
