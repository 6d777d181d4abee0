"""Multinomial logistic regression and softmax in numpy: the router's linear models.

Both of the router's views (embeddings, word pieces) fit one on the card texts; numpy keeps
the supervisor free of a machine-learning framework for a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
AnyFloats = npt.NDArray[np.floating[Any]]
Ints = npt.NDArray[np.int64]

LR_LAMBDA = 1e-2
LR_ITERS = 300


def softmax(z: Floats, temperature: float = 1.0) -> Floats:
    z = np.atleast_2d(z) / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    out: Floats = p / p.sum(axis=1, keepdims=True)
    return out


@dataclass
class LogisticRegression:
    """Multinomial logistic regression on standardised features (Nesterov gradient descent)."""

    mean: Floats
    scale: Floats
    weights: Floats
    bias: Floats

    @classmethod
    def fit(
        cls, x: Floats, y: Ints, classes: int, *, lam: float = LR_LAMBDA, iters: int = LR_ITERS
    ) -> LogisticRegression:
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(axis=0)
        scale = x.std(axis=0) + 1e-6
        xs = (x - mean) / scale
        n, d = xs.shape
        onehot = np.eye(classes)[y]
        w, b = np.zeros((d, classes)), np.zeros(classes)
        vw, vb = np.zeros_like(w), np.zeros_like(b)
        step, momentum = 1.0, 0.9
        for _ in range(iters):
            wl, bl = w + momentum * vw, b + momentum * vb
            grad = (softmax(xs @ wl + bl) - onehot) / n
            vw = momentum * vw - step * (xs.T @ grad + lam * wl)
            vb = momentum * vb - step * grad.sum(axis=0)
            w, b = w + vw, b + vb
        return cls(mean, scale, w, b)

    def log_proba(self, x: Floats) -> Floats:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        z = z - z.max(axis=1, keepdims=True)
        out: Floats = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return out
