"""Class-balanced, L2-regularised logistic regression in numpy (full-batch Adam).

The features are a dense block (the MiniLM embedding) beside a sparse block (hashed character
n-grams, a few hundred non-zeros out of 16k columns). Keeping the sparse block sparse makes an
epoch cost a few milliseconds, so a thousand examples train in well under a second.
Deterministic: zero initialisation, no sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from switchboard.core.embeddings import Matrix
from switchboard.guard.features import FloatVec, IntVec, SparseRows, stack_rows


@dataclass(frozen=True)
class Features:
    """``dense`` (n, d) beside ``sparse`` (n, D); either block may have zero columns."""

    dense: Matrix
    sparse: SparseRows

    @property
    def rows(self) -> int:
        return int(self.dense.shape[0])

    def take(self, rows: IntVec) -> Features:
        return Features(dense=self.dense[rows], sparse=self.sparse.take(rows))


def concat(parts: list[Features]) -> Features:
    dim = parts[0].sparse.dim
    rows = [p.sparse.row(i) for p in parts for i in range(p.rows)]
    return Features(
        dense=np.vstack([p.dense for p in parts]).astype(np.float32),
        sparse=stack_rows(rows, dim),
    )


@dataclass(frozen=True)
class LogisticModel:
    dense_weights: FloatVec
    sparse_weights: FloatVec
    bias: float

    def decision(self, x: Features) -> FloatVec:
        z = x.dense @ self.dense_weights + x.sparse.dot(self.sparse_weights)
        out: FloatVec = (z + np.float32(self.bias)).astype(np.float32)
        return out

    def decision_one(self, dense: FloatVec, cols: IntVec, vals: FloatVec) -> float:
        return float(
            dense @ self.dense_weights + vals @ self.sparse_weights[cols] + np.float32(self.bias)
        )


def sigmoid(z: FloatVec) -> FloatVec:
    out: FloatVec = (1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))).astype(np.float32)
    return out


class _Adam:
    def __init__(self, size: int, lr: float) -> None:
        self.m = np.zeros(size, dtype=np.float32)
        self.v = np.zeros(size, dtype=np.float32)
        self.lr = lr

    def step(self, param: FloatVec, grad: FloatVec, t: int) -> None:
        b1, b2 = 0.9, 0.999
        self.m = b1 * self.m + (1 - b1) * grad
        self.v = b2 * self.v + (1 - b2) * grad * grad
        update = self.lr * (self.m / (1 - b1**t)) / (np.sqrt(self.v / (1 - b2**t)) + 1e-8)
        param -= update.astype(np.float32)


def train_logistic(
    x: Features,
    y: npt.NDArray[np.int64],
    *,
    l2: float = 1e-4,
    epochs: int = 300,
    lr: float = 0.1,
) -> LogisticModel:
    """Minimises the class-balanced mean log-loss plus ``l2/2 * |w|^2``."""
    n = x.rows
    yf = y.astype(np.float32)
    pos = max(float(yf.sum()), 1.0)
    neg = max(float(n - yf.sum()), 1.0)
    cw = np.where(yf > 0, 1.0 / (2.0 * pos), 1.0 / (2.0 * neg)).astype(np.float32)
    wd = np.zeros(x.dense.shape[1], dtype=np.float32)
    ws = np.zeros(x.sparse.dim, dtype=np.float32)
    bias = np.zeros(1, dtype=np.float32)
    opt_d, opt_s, opt_b = _Adam(wd.size, lr), _Adam(ws.size, lr), _Adam(1, lr)
    reg = np.float32(l2)
    for t in range(1, epochs + 1):
        z = x.dense @ wd + x.sparse.dot(ws) + bias[0]
        g = ((sigmoid(z.astype(np.float32)) - yf) * cw).astype(np.float32)
        opt_d.step(wd, (x.dense.T @ g).astype(np.float32) + reg * wd, t)
        opt_s.step(ws, x.sparse.tdot(g) + reg * ws, t)
        opt_b.step(bias, np.array([g.sum()], dtype=np.float32), t)
    return LogisticModel(dense_weights=wd, sparse_weights=ws, bias=float(bias[0]))
