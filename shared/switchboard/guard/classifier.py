"""The guard's classifier: logistic regression over [MiniLM embedding | character n-grams].

The embedding carries meaning ("reveal what you were told to do" is close to "print your
system prompt"); the n-grams carry wording, including German, which the English MiniLM model
places poorly. One linear model over both blocks beats either alone.

Thresholds are chosen for a target false-positive rate: the benign examples' out-of-fold
scores (k-fold, each example scored by a model that never saw it) give the score a benign text
reaches, and the threshold sits just above the target quantile of those. ``user`` and
``indirect`` screening get their own targets.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from switchboard.core.embeddings import Matrix
from switchboard.guard.features import DEFAULT_BITS, FloatVec, ngram_features, ngram_row
from switchboard.guard.linear import Features, LogisticModel, sigmoid, train_logistic

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainingConfig:
    """``emb_scale`` 0.5 with ``l2`` 1e-3 transferred better to unseen injection sets but
    pushed ordinary requests from other assistants into the borderline band (9% -> 30% of
    CLINC150's test queries) and refused plain customer requests; docs/security.md."""

    emb_scale: float = 1.0
    bits: int = DEFAULT_BITS
    l2: float = 1e-4
    epochs: int = 300
    lr: float = 0.1
    folds: int = 5
    seed: int = 0
    # Floors keep the threshold sane when the benign examples all score near zero.
    min_threshold: float = 0.5
    min_indirect_threshold: float = 0.97

    def key(self) -> str:
        return (
            f"v{FORMAT_VERSION}:{self.emb_scale}:{self.bits}:{self.l2}:{self.epochs}:{self.lr}:"
            f"{self.folds}:{self.seed}:{self.min_threshold}:{self.min_indirect_threshold}"
        )


def featurize(texts: Sequence[str], vectors: Matrix, config: TrainingConfig) -> Features:
    dense = (np.asarray(vectors, dtype=np.float32) * np.float32(config.emb_scale)).astype(
        np.float32
    )
    return Features(dense=dense, sparse=ngram_features(texts, config.bits))


def stratified_folds(labels: npt.NDArray[np.int64], k: int, seed: int) -> npt.NDArray[np.int64]:
    """Fold number per row, each class spread evenly over the ``k`` folds."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(labels.size, dtype=np.int64)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        folds[idx] = np.arange(idx.size) % k
    return folds


def threshold_for_fpr(benign_scores: FloatVec, target_fpr: float, floor: float) -> float:
    """The smallest threshold (``score >= t`` blocks) whose benign FPR is ≤ ``target_fpr``."""
    if benign_scores.size == 0:
        return floor
    ranked = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(target_fpr * ranked.size))  # benign examples we may block
    above = float(ranked[allowed]) if allowed < ranked.size else 0.0
    # Just above the first benign score we may not block.
    return max(floor, float(np.nextafter(np.float32(above), np.float32(1.0))))


def out_of_fold_scores(x: Features, y: npt.NDArray[np.int64], config: TrainingConfig) -> FloatVec:
    folds = stratified_folds(y, config.folds, config.seed)
    scores = np.zeros(y.size, dtype=np.float32)
    for f in range(config.folds):
        train = np.flatnonzero(folds != f)
        test = np.flatnonzero(folds == f)
        if test.size == 0 or np.unique(y[train]).size < 2:
            continue
        model = train_logistic(
            x.take(train), y[train], l2=config.l2, epochs=config.epochs, lr=config.lr
        )
        scores[test] = sigmoid(model.decision(x.take(test)))
    return scores


@dataclass(frozen=True)
class GuardClassifier:
    model: LogisticModel
    config: TrainingConfig
    user_threshold: float
    indirect_threshold: float
    stats: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        vectors: Matrix,
        *,
        sources: Sequence[str] | None = None,
        target_fpr: float = 0.02,
        indirect_target_fpr: float = 0.0,
        config: TrainingConfig | None = None,
    ) -> GuardClassifier:
        """Trains on every example; thresholds come from out-of-fold benign scores.

        The indirect threshold uses the benign examples from documents and tool outputs when
        there are any, else every benign example.
        """
        config = config or TrainingConfig()
        t0 = time.perf_counter()
        y = np.asarray(labels, dtype=np.int64)
        if np.unique(y).size < 2:
            raise ValueError("guard training needs both benign and injection examples")
        x = featurize(texts, vectors, config)
        oof = out_of_fold_scores(x, y, config)
        benign = oof[y == 0]
        user_t = threshold_for_fpr(benign, target_fpr, config.min_threshold)
        indirect_benign = benign
        if sources is not None:
            src = np.asarray(sources)
            doc_mask = (y == 0) & (src != "user")
            if doc_mask.any():
                indirect_benign = np.concatenate([benign, oof[doc_mask]])
        indirect_t = max(
            user_t,
            threshold_for_fpr(indirect_benign, indirect_target_fpr, config.min_indirect_threshold),
        )
        model = train_logistic(x, y, l2=config.l2, epochs=config.epochs, lr=config.lr)
        injections = oof[y == 1]
        stats = {
            "examples": float(y.size),
            "injections": float(y.sum()),
            "oof_recall_user": float((injections >= user_t).mean()) if injections.size else 0.0,
            "oof_fpr_user": float((benign >= user_t).mean()) if benign.size else 0.0,
            "train_seconds": round(time.perf_counter() - t0, 3),
        }
        return cls(model, config, user_t, indirect_t, stats)

    def scores(self, texts: Sequence[str], vectors: Matrix) -> FloatVec:
        return sigmoid(self.model.decision(featurize(texts, vectors, self.config)))

    def score_one(self, text: str, vector: FloatVec) -> float:
        cols, vals = ngram_row(text, self.config.bits)
        dense = (np.asarray(vector, dtype=np.float32) * np.float32(self.config.emb_scale)).astype(
            np.float32
        )
        z = self.model.decision_one(dense, cols, vals)
        return float(sigmoid(np.array([z], dtype=np.float32))[0])

    # --- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(
            buf,
            dense=self.model.dense_weights,
            sparse=self.model.sparse_weights,
            scalars=np.array(
                [self.model.bias, self.user_threshold, self.indirect_threshold], dtype=np.float64
            ),
            stat_names=np.array(list(self.stats), dtype=np.str_),
            stat_values=np.array(list(self.stats.values()), dtype=np.float64),
            config_key=np.array(self.config.key()),
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)  # readers never see a half-written file

    @classmethod
    def load(cls, path: Path, config: TrainingConfig) -> GuardClassifier | None:
        """The saved classifier, or None when the file is missing, corrupt or stale."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["config_key"]) != config.key():
                    return None
                bias, user_t, indirect_t = (float(v) for v in data["scalars"])
                model = LogisticModel(
                    dense_weights=data["dense"].astype(np.float32),
                    sparse_weights=data["sparse"].astype(np.float32),
                    bias=bias,
                )
                stats = {
                    str(k): float(v)
                    for k, v in zip(data["stat_names"], data["stat_values"], strict=True)
                }
        except (OSError, ValueError, KeyError) as exc:
            log.warning("guard cache unreadable", extra={"path": str(path), "error": str(exc)})
            return None
        return cls(model, config, user_t, indirect_t, stats)
