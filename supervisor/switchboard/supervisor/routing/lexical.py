"""The router's lexical view: which card's words a request uses, beside what it means.

A small embedding model blurs neighbouring domains ("my card was declined" sits between
banking and credit cards), while one distinctive word often settles it. This view is a
multinomial logistic regression over tf-idf weights of the request's word pieces (the
embedding model's own tokenizer, so typos and inflections share pieces), fitted on the same
card texts as the embedding view. Its log-probabilities are added to the embedding scores
with the same small weight as the embedding view's regression (``scoring.LR_WEIGHT``).

Chosen by cross-validation on card examples only (5 folds over the 30-example CLINC150 and
Schema-Guided Dialogue cards, the data a deployment has): out-of-fold top-1 0.873 → 0.880;
the test splits were read once afterwards (``docs/routing.md``). The tokenizer is English
(all-MiniLM-L6-v2's); other languages are left to the language rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from tokenizers import Tokenizer

from switchboard.core.embeddings import default_tokenizer_path
from switchboard.supervisor.routing.linear import Floats, Ints, LogisticRegression

MAX_TERMS = 1024  # the most frequent pieces; bounds the model whatever the cards' size
MAX_ROWS = 5000  # fitting rows, subsampled beyond (like the embedding regression)
_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]"})


@cache
def _tokenizer() -> Tokenizer:
    """The embedding model's tokenizer, read once from its installed package."""
    return Tokenizer.from_file(str(default_tokenizer_path()))


def pieces(text: str) -> set[str]:
    """The distinct word pieces of ``text`` (lower-cased), special tokens left out."""
    return {t for t in _tokenizer().encode(text.lower()).tokens if t not in _SPECIAL}


@dataclass(frozen=True)
class LexicalView:
    """tf-idf over the cards' word pieces, and a regression from them to the agents."""

    vocabulary: dict[str, int]
    idf: Floats
    lr: LogisticRegression

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Ints, classes: int) -> LexicalView | None:
        """None when fewer than two agents have texts (nothing to separate)."""
        labels = np.asarray(labels, dtype=np.int64)
        if classes < 2 or len(np.unique(labels)) < 2:
            return None
        if len(texts) > MAX_ROWS:
            rows = np.sort(np.random.default_rng(0).permutation(len(texts))[:MAX_ROWS])
            texts, labels = [texts[i] for i in rows], labels[rows]
        docs = [pieces(t) for t in texts]
        df = Counter(p for d in docs for p in d)
        kept = sorted(df, key=lambda p: (-df[p], p))[:MAX_TERMS]
        vocabulary = {p: i for i, p in enumerate(sorted(kept))}
        n = len(docs)
        idf = np.array([np.log((1 + n) / (1 + df[p])) + 1.0 for p in sorted(kept)])
        x = _tfidf(docs, vocabulary, idf)
        return cls(vocabulary, idf, LogisticRegression.fit(x, labels, classes))

    def features(self, texts: Sequence[str]) -> Floats:
        return _tfidf([pieces(t) for t in texts], self.vocabulary, self.idf)

    def log_proba(self, texts: Sequence[str]) -> Floats:
        """(texts, classes) log-probabilities of the agents given the words alone."""
        return self.lr.log_proba(self.features(texts))


def _tfidf(docs: Sequence[set[str]], vocabulary: dict[str, int], idf: Floats) -> Floats:
    x = np.zeros((len(docs), len(vocabulary)))
    for i, doc in enumerate(docs):
        cols = [j for p in doc if (j := vocabulary.get(p)) is not None]
        x[i, cols] = idf[cols]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Floats = x / np.maximum(norms, 1e-12)
    return out
