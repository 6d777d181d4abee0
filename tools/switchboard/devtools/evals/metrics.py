"""Metric functions for the evaluations (pure numpy/python, unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def accuracy(truth: Sequence[str], pred: Sequence[str | None]) -> float:
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, pred, strict=True)) / len(truth)


def macro_f1(truth: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 (a prediction of None counts as wrong for every label)."""
    scores = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, pred, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, pred, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, pred, strict=True))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def accuracy_at_coverage(
    correct: Sequence[bool], confidence: Sequence[float], coverage: float
) -> float:
    """Accuracy of the ``coverage`` share of decisions with the highest confidence."""
    n = len(correct)
    if n == 0:
        return 0.0
    keep = max(1, round(coverage * n))
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")[:keep]
    return float(np.asarray(correct, dtype=bool)[order].mean())


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with graded gains ``rel`` (BEIR's definition: gain = rel, log2 discount)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def reciprocal_rank(
    ranked: Sequence[str], relevant: Mapping[str, int], k: int | None = None
) -> float:
    for i, doc in enumerate(ranked[:k] if k else ranked):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0
