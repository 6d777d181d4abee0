"""A deterministic stand-in for the embedding model (no model file): hashed bag of words.

Records every ``embed`` call, so tests can see how texts were batched.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np

from switchboard.core.embeddings import Matrix

DIMENSION = 384


class HashEmbedder:
    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail
        self.gate = gate  # when set, embed() waits for it: lets a test pile queries up

    @property
    def model_id(self) -> str:
        return "hash-embedder"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> Matrix:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("model broke")
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                out[i, h % DIMENSION] += 1.0
            norm = float(np.linalg.norm(out[i])) or 1.0
            out[i] /= norm
        return out
