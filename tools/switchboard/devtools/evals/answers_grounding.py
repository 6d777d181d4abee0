"""Groundedness without a judge: is each sentence of an answer supported by what it cites?

A sentence is supported when a passage of a cited document (one of its sentences, or two
adjacent ones) holds at least ``WORD_SUPPORT`` of its content words, or, for a paraphrase,
when its embedding is within ``EMBEDDING_SUPPORT`` cosine of one of the document's
sentences. Boilerplate the system adds itself (the offline notice) is not a claim and is
not scored. An answer that cites nothing has nothing to be grounded in: 0.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np

from switchboard.agent.knowledge.sentences import split_sentences
from switchboard.core.embeddings import Embedder, Matrix

WORD_SUPPORT = 0.75
EMBEDDING_SUPPORT = 0.8

_MARKER = re.compile(r"\[\d+\]")
_WORD = re.compile(r"[a-z0-9$€£%][a-z0-9$€£%'._/-]*")
_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BULLET = re.compile(r"^\s*(?:[-*>]|\d+[.)])\s+")
_FILLER = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "we",
        "with",
        "you",
        "your",
    ]
)


def _words(text: str) -> set[str]:
    return {w.strip(".") for w in _WORD.findall(text.lower()) if w not in _FILLER}


def claims(answer: str, boilerplate: Sequence[str] = ()) -> list[str]:
    """The sentences of an answer that state something (markers, bullets, notices removed)."""
    out: list[str] = []
    for raw in answer.splitlines():
        line = _BULLET.sub("", _MARKER.sub("", raw).replace("**", "")).strip()
        if not line or any(line.startswith(b.strip()) for b in boilerplate if b.strip()):
            continue
        out.extend(s.strip() for s in _END.split(line) if len(_words(s)) >= 2)
    return out


class DocumentIndex:
    """Each knowledge document's sentences, their word sets and embeddings, built lazily."""

    def __init__(self, embedder: Embedder, documents: dict[str, str]) -> None:
        self._embedder = embedder
        self._documents = documents
        self._units: dict[str, list[set[str]]] = {}
        self._vectors: dict[str, Matrix] = {}

    def _load(self, doc: str) -> None:
        if doc in self._units:
            return
        text = self._documents.get(doc, "")
        headings = [ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("#")]
        sentences = [*split_sentences(text), *headings] or [""]
        words = [_words(s) for s in sentences]
        pairs = [a | b for a, b in itertools.pairwise(words)]
        self._units[doc] = [*words, *pairs]
        self._vectors[doc] = self._embedder.embed(sentences)

    def support(self, sentence: str, vector: np.ndarray, docs: Sequence[str]) -> bool:
        said = _words(sentence)
        for doc in docs:
            self._load(doc)
            if said and any(len(said & u) / len(said) >= WORD_SUPPORT for u in self._units[doc]):
                return True
            if float(np.max(self._vectors[doc] @ vector)) >= EMBEDDING_SUPPORT:
                return True
        return False

    def groundedness(
        self, answer: str, cited: Sequence[str], boilerplate: Sequence[str] = ()
    ) -> float:
        """The share of the answer's sentences a cited document supports (0 if none cited)."""
        docs = [d for d in cited if d in self._documents]
        sentences = claims(answer, boilerplate)
        if not docs:
            return 0.0
        if not sentences:
            return 1.0
        vectors = self._embedder.embed(sentences)
        ok = [self.support(s, v, docs) for s, v in zip(sentences, vectors, strict=True)]
        return float(np.mean(ok))
