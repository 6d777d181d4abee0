"""Embeddings cached on disk, keyed by the model and a hash of the texts.

Texts are embedded in blocks; each block is stored as ``<sha256>.npy`` under the cache
folder, so a long run that is interrupted resumes where it stopped, and a second run costs
only the reads.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from switchboard.core.embeddings import Embedder, Matrix

log = logging.getLogger(__name__)

BLOCK = 1024


def texts_key(model_id: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(model_id.encode())
    for text in texts:
        digest.update(b"\x00")
        digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class EmbeddingCache:
    """Wraps an embedder; ``embed`` reads finished blocks from disk and stores new ones."""

    def __init__(self, embedder: Embedder, folder: Path) -> None:
        self._embedder = embedder
        self._folder = folder

    @property
    def model_id(self) -> str:
        return self._embedder.model_id

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        self._folder.mkdir(parents=True, exist_ok=True)
        blocks: list[Matrix] = []
        for start in range(0, len(texts), BLOCK):
            part = list(texts[start : start + BLOCK])
            path = self._folder / f"{texts_key(self._embedder.model_id, part)}.npy"
            if path.exists():
                cached: Matrix = np.load(path)
                if cached.shape == (len(part), self._embedder.dimension):
                    blocks.append(cached)
                    continue
            vectors = self._embedder.embed(part)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
            blocks.append(vectors)
            log.info("embedded %d/%d texts", min(start + BLOCK, len(texts)), len(texts))
        out: Matrix = np.concatenate(blocks).astype(np.float32, copy=False)
        return out
