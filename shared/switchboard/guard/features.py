"""Hashed character n-gram features: cheap, language-agnostic, and strong where MiniLM is weak.

all-MiniLM-L6-v2 is an English model, so German (and French, Spanish...) injections land close
to unrelated text in its space. Character n-grams of the normalised text see "ignoriere",
"anweisungen" and "vergiss" directly. Each text becomes a ``dim``-wide vector of log-scaled
n-gram counts (the hashing trick; no vocabulary to store), L2-normalised. The hash is a
vectorised polynomial hash over the text's code points: deterministic across processes, unlike
Python's salted ``hash``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from switchboard.core.embeddings import Matrix

IntVec = npt.NDArray[np.int64]
FloatVec = npt.NDArray[np.float32]

DEFAULT_BITS = 14
NGRAM_SIZES = (3, 4, 5)
MAX_CHARS = 4000

_SPACE = re.compile(r"\s+")
_MULT = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed, padded with a space at both ends."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    return " " + _SPACE.sub(" ", text).strip() + " "


def _buckets(text: str, bits: int) -> npt.NDArray[np.uint64]:
    codes = np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts: list[npt.NDArray[np.uint64]] = []
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        for n in NGRAM_SIZES:
            count = codes.size - n + 1
            if count <= 0:
                continue
            h = np.full(count, np.uint64(n), dtype=np.uint64)
            for k in range(n):
                h = h * _MULT + codes[k : k + count]
            parts.append((h * _MIX) >> shift)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate(parts)


@dataclass(frozen=True)
class SparseRows:
    """Rows in CSR form: row ``i`` is ``data[indptr[i]:indptr[i+1]]`` at ``indices[...]``."""

    indptr: IntVec
    indices: IntVec
    data: FloatVec
    dim: int

    @property
    def rows(self) -> int:
        return int(self.indptr.size - 1)

    def dot(self, w: FloatVec) -> FloatVec:
        """``X @ w``."""
        prod = (self.data * w[self.indices]).astype(np.float32)
        sums = np.concatenate([[np.float32(0.0)], np.cumsum(prod, dtype=np.float64)])
        out: FloatVec = (sums[self.indptr[1:]] - sums[self.indptr[:-1]]).astype(np.float32)
        return out

    def tdot(self, g: FloatVec) -> FloatVec:
        """``X.T @ g``."""
        per_row = np.repeat(g, np.diff(self.indptr))
        out: FloatVec = np.bincount(
            self.indices, weights=self.data * per_row, minlength=self.dim
        ).astype(np.float32)
        return out

    def take(self, rows: IntVec) -> SparseRows:
        return stack_rows([self.row(int(i)) for i in rows], self.dim)

    def row(self, i: int) -> tuple[IntVec, FloatVec]:
        lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.indices[lo:hi], self.data[lo:hi]

    def dense(self) -> Matrix:
        out = np.zeros((self.rows, self.dim), dtype=np.float32)
        for i in range(self.rows):
            idx, val = self.row(i)
            out[i, idx] = val
        return out


def stack_rows(rows: Sequence[tuple[IntVec, FloatVec]], dim: int) -> SparseRows:
    lengths = np.array([r[0].size for r in rows], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if rows:
        indices = np.concatenate([r[0] for r in rows]).astype(np.int64)
        data = np.concatenate([r[1] for r in rows]).astype(np.float32)
    else:
        indices = np.zeros(0, dtype=np.int64)
        data = np.zeros(0, dtype=np.float32)
    return SparseRows(indptr=indptr, indices=indices, data=data, dim=dim)


def ngram_row(text: str, bits: int = DEFAULT_BITS) -> tuple[IntVec, FloatVec]:
    """One text's non-zero columns and their L2-normalised log(1 + count) values."""
    b = _buckets(text, bits).astype(np.int64)
    if b.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    cols, counts = np.unique(b, return_counts=True)
    vals = np.log1p(counts.astype(np.float32))
    vals /= np.float32(np.linalg.norm(vals))
    return cols, vals.astype(np.float32)


def ngram_features(texts: Sequence[str], bits: int = DEFAULT_BITS) -> SparseRows:
    """One L2-normalised row of log(1 + count) per text, ``2**bits`` columns."""
    return stack_rows([ngram_row(t, bits) for t in texts], 1 << bits)
