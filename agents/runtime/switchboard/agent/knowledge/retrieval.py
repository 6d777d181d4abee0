"""Retrieval: dense search in the vector store, or hybrid (dense + BM25, fused by RRF).

``dense`` asks the store for the ``k`` nearest chunks. ``hybrid`` also ranks the same chunks
with BM25 (an in-memory index built from the store's chunks at start-up) and merges the two
rankings with reciprocal rank fusion: ``sum(1 / (rrf_k + rank))`` over the rankings a chunk
appears in. Every returned hit keeps its cosine similarity as ``score`` (also for chunks
that only BM25 found), so the agent's ``min_score`` filter means the same in both modes;
the order is the fused one.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from switchboard.agent.knowledge.sections import same_section
from switchboard.agent.knowledge.store import Hit, StoredChunk, VectorStore
from switchboard.core.embeddings import Matrix, Vector

Mode = Literal["dense", "hybrid"]

RRF_K = 60
CANDIDATES = 30  # per ranking, before fusion

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS_TEXT = (
    "a an and are as at be been but by can could did do does for from had has have how i "
    "if in into is it its me my no not of on or our so such that the their them then "
    "there these they this to was we were what when where which who why will with would "
    "you your"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "er",
             "ed", "es", "ly", "s")  # fmt: skip


def stem(word: str) -> str:
    """A light suffix stripper: enough to match plural/verb forms, never below 3 letters."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix in ("ies", "ied"):
                return word[: -len(suffix)] + "y"
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25:
    """Okapi BM25 over a fixed list of documents (``k1``, ``b`` as in Lucene's defaults)."""

    def __init__(self, documents: Iterable[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths: list[int] = []
        for doc_id, text in enumerate(documents):
            counts = Counter(tokenize(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(doc_id)
                tfs.append(tf)
        self.size = len(lengths)
        self._lengths = np.asarray(lengths, dtype=np.float32)
        avg = float(self._lengths.mean()) if self.size else 1.0
        self._norm = k1 * (1 - b + b * self._lengths / max(avg, 1e-9))
        self._postings = {
            t: (np.asarray(ids, dtype=np.int64), np.asarray(tfs, dtype=np.float32))
            for t, (ids, tfs) in postings.items()
        }

    def idf(self, term: str) -> float:
        df = len(self._postings[term][0]) if term in self._postings else 0
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """One score per document (0 when no query term occurs)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term, qtf in Counter(tokenize(query)).items():
            if term not in self._postings:
                continue
            ids, tfs = self._postings[term]
            out[ids] += qtf * self.idf(term) * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
        return out

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` best (document index, score) pairs with a positive score, best first."""
        scores = self.scores(query)
        if not self.size or k <= 0:
            return []
        k = min(k, self.size)
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(int(i), float(scores[i])) for i in idx if scores[i] > 0]


def rrf(rankings: Sequence[Sequence[str]], *, k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: ids by ``sum(1 / (k + rank))`` (rank from 1), best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    """What an agent calls to find passages; see the module docstring for the two modes.

    ``Retriever(store, mode="hybrid")`` builds nothing until :meth:`load` (or the first
    :meth:`retrieve`), which reads every chunk from the store once. Call :meth:`load` again
    after re-ingesting while the agent runs.
    """

    def __init__(
        self,
        store: VectorStore,
        *,
        mode: Mode = "dense",
        candidates: int = CANDIDATES,
        rrf_k: int = RRF_K,
    ) -> None:
        self._store = store
        self.mode: Mode = mode
        self._candidates = candidates
        self._rrf_k = rrf_k
        self._chunks: list[StoredChunk] = []
        self._vectors: Matrix = np.zeros((0, 0), dtype=np.float32)
        self._position: dict[str, int] = {}
        self._bm25: BM25 | None = None
        self._lock = asyncio.Lock()

    @property
    def lexical_size(self) -> int:
        return self._bm25.size if self._bm25 else 0

    def load_sync(self) -> None:
        """(Re)builds the BM25 index from the store (blocking; a no-op in dense mode)."""
        if self.mode != "hybrid":
            return
        chunks, vectors = self._store.all_chunks()
        self._chunks, self._vectors = chunks, vectors
        self._position = {c.id: i for i, c in enumerate(chunks)}
        self._bm25 = BM25(c.text for c in chunks)

    async def load(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.load_sync)

    async def retrieve(self, text: str, vector: Vector, k: int) -> list[Hit]:
        """The ``k`` best chunks for a query given as text and as its (unit) embedding."""
        if self.mode == "dense":
            return await asyncio.to_thread(self._store.query, vector, k)
        if self._bm25 is None:
            await self.load()
        return await asyncio.to_thread(self._hybrid, text, vector, k)

    async def same_section(self, hits: list[Hit], vector: Vector) -> list[Hit]:
        """The chunks next to ``hits`` that continue their sections (``sections``)."""
        return await asyncio.to_thread(same_section, self._store, hits, vector)

    def _hybrid(self, text: str, vector: Vector, k: int) -> list[Hit]:
        assert self._bm25 is not None
        depth = max(k, self._candidates)
        dense = self._store.query(vector, depth)
        lexical = self._bm25.top(text, depth)
        by_id = {h.id: h for h in dense}
        lexical_ids = [self._chunks[i].id for i, _ in lexical]
        fused = rrf([[h.id for h in dense], lexical_ids], k=self._rrf_k)
        hits: list[Hit] = []
        for chunk_id, _ in fused[:k]:
            hit = by_id.get(chunk_id) or self._lexical_hit(chunk_id, vector)
            if hit is not None:
                hits.append(hit)
        return hits

    def _lexical_hit(self, chunk_id: str, vector: Vector) -> Hit | None:
        i = self._position.get(chunk_id)
        if i is None:
            return None
        chunk = self._chunks[i]
        stored = self._vectors.shape[1:] == vector.shape
        score = (
            float(self._vectors[i] @ vector)
            if stored
            else 0.0  # no stored embedding to compare with: cannot vouch for it
        )
        return Hit.of(
            chunk.id, chunk.text, score, dict(chunk.metadata), self._vectors[i] if stored else None
        )
