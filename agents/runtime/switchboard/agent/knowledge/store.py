"""The vector store an agent retrieves from: an interface, Chroma, and an in-memory fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.sentences import SentenceSet, decode
from switchboard.agent.settings import AgentSettings
from switchboard.core.embeddings import Matrix, SwitchboardEmbeddingFunction, Vector
from switchboard.core.errors import ConfigurationError

Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: Metadata


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    score: float  # cosine similarity
    metadata: Metadata
    # The chunk's stored embedding, when the store returns it (the guard reuses it).
    vector: Vector | None = field(default=None, compare=False, repr=False)
    # The chunk's sentences and their embeddings, stored at ingest (the offline answer).
    sentences: SentenceSet | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, id: str, text: str, score: float, metadata: Metadata, vector: Vector | None) -> Hit:
        """A hit from what the store holds: the sentence fields leave the metadata."""
        rest, sentences = decode(metadata)
        return cls(id, text, score, rest, vector, sentences)


class VectorStore(Protocol):
    """Synchronous (Chroma's client is); async callers run it in a worker thread."""

    def upsert(self, chunks: list[StoredChunk], embeddings: Matrix) -> None: ...

    def delete(self, ids: list[str]) -> None: ...

    def query(self, embedding: Vector, k: int) -> list[Hit]: ...

    def metadata_by_id(self) -> dict[str, Metadata]: ...

    def get(self, ids: list[str], embedding: Vector) -> list[Hit]:
        """The chunks of ``ids`` that exist, scored against ``embedding`` (cosine)."""
        ...

    def all_chunks(self) -> tuple[list[StoredChunk], Matrix]:
        """Every chunk with its embedding (row i belongs to chunk i): for lexical indexes."""
        ...

    def count(self) -> int: ...


class ChromaStore:
    """One agent's collection, embedded (PersistentClient) or on a Chroma server."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    @classmethod
    def open(cls, name: str, *, path: str | None = None, url: str | None = None) -> ChromaStore:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if url:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ConfigurationError(f"chroma URL must be http(s)://host:port, got {url!r}")
            client: Any = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        elif path:
            client = chromadb.PersistentClient(path=path, settings=settings)
        else:
            raise ConfigurationError("a Chroma store needs a path or a URL")
        collection = client.get_or_create_collection(
            name,
            embedding_function=SwitchboardEmbeddingFunction(),  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )
        return cls(collection)

    def upsert(self, chunks: list[StoredChunk], embeddings: Matrix) -> None:
        if not chunks:
            return
        self._collection.upsert(
            ids=[c.id for c in chunks],
            documents=[c.text for c in chunks],
            metadatas=[c.metadata for c in chunks],
            embeddings=embeddings,
        )

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._collection.delete(ids=ids)

    def query(self, embedding: Vector, k: int) -> list[Hit]:
        result = self._collection.query(
            query_embeddings=[embedding],
            n_results=k,
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        ids = result["ids"][0]
        docs = (result["documents"] or [[]])[0]
        metas = (result["metadatas"] or [[]])[0]
        dists = (result["distances"] or [[]])[0]
        embeddings = result.get("embeddings")
        vecs = list(embeddings[0]) if embeddings is not None else [None] * len(ids)
        return [
            Hit.of(
                i,
                d or "",
                1.0 - float(dist),
                dict(m or {}),
                None if v is None else np.asarray(v, dtype=np.float32),
            )
            for i, d, m, dist, v in zip(ids, docs, metas, dists, vecs, strict=True)
        ]

    def get(self, ids: list[str], embedding: Vector) -> list[Hit]:
        if not ids:
            return []
        got = self._collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        docs = got["documents"] or [""] * len(got["ids"])
        metas = got["metadatas"] or [{}] * len(got["ids"])
        raw = got["embeddings"]
        out = []
        for n, (i, d, m) in enumerate(zip(got["ids"], docs, metas, strict=True)):
            v = None if raw is None or len(raw) == 0 else np.asarray(raw[n], dtype=np.float32)
            score = float(np.dot(v, embedding)) if v is not None else 0.0
            out.append(Hit.of(i, d or "", score, dict(m or {}), v))
        return out

    def metadata_by_id(self) -> dict[str, Metadata]:
        got = self._collection.get(include=["metadatas"])
        metas = got["metadatas"] or []
        return {i: dict(m or {}) for i, m in zip(got["ids"], metas, strict=True)}

    def all_chunks(self) -> tuple[list[StoredChunk], Matrix]:
        got = self._collection.get(include=["documents", "metadatas", "embeddings"])
        ids = list(got["ids"])
        docs = got["documents"] or [""] * len(ids)
        metas = got["metadatas"] or [{}] * len(ids)
        raw = got["embeddings"]
        chunks = [
            StoredChunk(id=i, text=d or "", metadata=dict(m or {}))
            for i, d, m in zip(ids, docs, metas, strict=True)
        ]
        if raw is None or len(raw) == 0:
            return chunks, np.zeros((len(ids), 0), dtype=np.float32)
        return chunks, np.asarray(raw, dtype=np.float32)

    def count(self) -> int:
        return int(self._collection.count())


class InMemoryStore:
    """Exact cosine search over a dict: the fake used by unit tests."""

    def __init__(self) -> None:
        self._chunks: dict[str, StoredChunk] = {}
        self._vectors: dict[str, Vector] = {}

    def upsert(self, chunks: list[StoredChunk], embeddings: Matrix) -> None:
        for chunk, vec in zip(chunks, embeddings, strict=True):
            self._chunks[chunk.id] = chunk
            self._vectors[chunk.id] = np.asarray(vec, dtype=np.float32)

    def delete(self, ids: list[str]) -> None:
        for i in ids:
            self._chunks.pop(i, None)
            self._vectors.pop(i, None)

    def query(self, embedding: Vector, k: int) -> list[Hit]:
        scored = sorted(
            ((float(np.dot(v, embedding)), i) for i, v in self._vectors.items()), reverse=True
        )[:k]
        return [
            Hit.of(i, self._chunks[i].text, s, self._chunks[i].metadata, self._vectors[i])
            for s, i in scored
        ]

    def get(self, ids: list[str], embedding: Vector) -> list[Hit]:
        return [
            Hit.of(
                i,
                self._chunks[i].text,
                float(np.dot(self._vectors[i], embedding)),
                self._chunks[i].metadata,
                self._vectors[i],
            )
            for i in ids
            if i in self._chunks
        ]

    def metadata_by_id(self) -> dict[str, Metadata]:
        return {i: dict(c.metadata) for i, c in self._chunks.items()}

    def all_chunks(self) -> tuple[list[StoredChunk], Matrix]:
        ids = list(self._chunks)
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [self._chunks[i] for i in ids], np.stack([self._vectors[i] for i in ids])

    def count(self) -> int:
        return len(self._chunks)


def open_store(config: AgentConfig, settings: AgentSettings) -> ChromaStore:
    """The agent's own collection: on the Chroma server when configured, else embedded."""
    if settings.chroma_url:
        return ChromaStore.open(config.collection_name, url=settings.chroma_url)
    path = settings.chroma_path(config.name)
    path.mkdir(parents=True, exist_ok=True)
    return ChromaStore.open(config.collection_name, path=str(path))
