"""The router's model: similarity kernel + logistic regressions, then calibration.

Per agent, a request's score combines three views of the agent's card texts (description,
examples, knowledge topics):

* **kernel similarity**: a soft maximum of the cosine similarities to the agent's texts,
  ``tau * log(sum(exp(sim / tau)))``. Agents whose cards cover several sub-topics are
  multimodal; a soft nearest-neighbour score follows every mode.
* **logistic regression** on the standardised embeddings (multinomial, L2, numpy): a linear
  view that weighs the directions that separate the agents.
* **word pieces** (``lexical.py``): a regression on the tf-idf of the request's word pieces,
  for the distinctive word a small embedding model blurs. Used when the texts are given.

``score = kernel + LR_WEIGHT * (log p_lr + log p_lexical)``. A softmax of ``score / T`` is
the confidence, with the temperature ``T`` fitted by cross-validation on the card texts
themselves (out-of-fold scores, minimum negative log-likelihood), so a confidence of 0.9 means
about nine in ten such decisions are right whatever the number of agents or examples. Scores
taken without the request's text (a vector blended with the conversation) spread less and
get their own temperature, fitted on the same folds without the word view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from switchboard.supervisor.routing.lexical import LexicalView, Pieces, pieces
from switchboard.supervisor.routing.linear import (
    AnyFloats,
    Floats,
    Ints,
    LogisticRegression,
    softmax,
)

KERNEL_TAU = 0.05
LR_WEIGHT = 0.03
CV_FOLDS = 5
CV_MAX_ROWS = 3000
LR_MAX_ROWS = 20000  # beyond this, a subsample (fitting time grows linearly)
DEFAULT_TEMPERATURE = 0.03
_GRID = np.exp(np.linspace(np.log(1e-3), np.log(1.0), 61))


def kernel_scores(sims: Floats, labels: Ints, classes: int, tau: float = KERNEL_TAU) -> Floats:
    """Per class, ``tau * log(sum(exp(sim / tau)))`` over that class's rows (``-inf`` when none).

    ``sims`` is (queries, rows) of finite cosines; ``labels`` gives each row's class.
    """
    sims = np.atleast_2d(sims)
    labels = np.asarray(labels)
    out = np.full((sims.shape[0], classes), -np.inf)
    if sims.shape[1] == 0:
        return out
    if np.any(labels[1:] < labels[:-1]):
        order = np.argsort(labels, kind="stable")
        sims, labels = sims[:, order], labels[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    present = labels[starts]
    top = np.maximum.reduceat(sims, starts, axis=1)
    spread = np.repeat(top, np.diff(np.r_[starts, len(labels)]), axis=1)
    summed = np.add.reduceat(np.exp((sims - spread) / tau), starts, axis=1)
    out[:, present] = top + tau * np.log(summed)
    return out


def fit_temperature(scores: Floats, truth: Ints, smoothing: float | None = None) -> float:
    """The softmax temperature with the smallest smoothed negative log-likelihood.

    Targets are smoothed towards uniform by ``smoothing`` (default ``1 / (n + 2)``, Laplace's
    rule): a handful of held-out examples that are all right must not make the router
    certain of everything.
    """
    n = len(truth)
    if n == 0:
        return DEFAULT_TEMPERATURE
    eps = 1.0 / (n + 2) if smoothing is None else smoothing
    finite = np.where(np.isfinite(scores), scores, -1e9)
    best, best_loss = DEFAULT_TEMPERATURE, np.inf
    for t in _GRID:
        logp = np.log(np.clip(softmax(finite, float(t)), 1e-12, None))
        loss = float(-((1 - eps) * logp[np.arange(n), truth] + eps * logp.mean(axis=1)).mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


@dataclass(frozen=True)
class OutOfFold:
    """Card examples scored by models fitted without them: what the router would do with
    requests like the deployment's own, used to fit its temperature and thresholds."""

    scores: Floats  # (held, classes)
    truth: Ints  # class per held row
    similarity: Floats  # mean cosine of the predicted class's 3 nearest kept texts
    vector_scores: Floats | None = None  # the same without the word view (when it has one)


@dataclass
class ScoringModel:
    """Everything the router needs to score a request: card vectors, LRs, temperature."""

    vectors: Floats  # (rows, dim), unit length
    labels: Ints  # class per row
    classes: int
    lr: LogisticRegression | None
    temperature: float = DEFAULT_TEMPERATURE
    #: for a query scored without its text (a vector blended with context): its scores
    #: spread less than with the word view, so they get their own fitted temperature
    vector_temperature: float = DEFAULT_TEMPERATURE
    pieces: list[Pieces] | None = field(default=None, repr=False)  # per row, for the word view
    lexical: LexicalView | None = field(default=None, repr=False)
    _cache: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    held_out: OutOfFold | None = field(default=None, repr=False)  # set when calibrated

    @classmethod
    def fit(
        cls,
        vectors: AnyFloats,
        labels: Ints,
        classes: int,
        *,
        calibrate: bool = True,
        holdout: npt.NDArray[np.bool_] | None = None,
        seed: int = 0,
        texts: Sequence[str] | None = None,
    ) -> ScoringModel:
        """``holdout`` marks the rows that look like requests (examples, not headings): only
        they are held out when fitting the temperature. ``texts`` (one per row) adds the
        word-piece view; without them the model scores embeddings alone."""
        labels = np.asarray(labels, dtype=np.int64)
        if texts is not None and len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts for {len(labels)} card rows")
        order = np.argsort(labels, kind="stable")  # rows grouped by class: fast scoring
        vectors = np.asarray(vectors, dtype=np.float64)[order]
        labels = labels[order]
        eligible = np.ones(len(labels), dtype=bool) if holdout is None else holdout[order]
        lr = _fit_lr(vectors, labels, classes)
        docs = None if texts is None else [pieces(texts[i]) for i in order]  # once for all folds
        lexical = None if docs is None else LexicalView.fit(docs, labels, classes)
        model = cls(vectors, labels, classes, lr, pieces=docs, lexical=lexical)
        if calibrate:
            held = model.held_out = model.out_of_fold(eligible, seed=seed)
            model.temperature = fit_temperature(held.scores, held.truth)
            model.vector_temperature = (
                model.temperature
                if held.vector_scores is None
                else fit_temperature(held.vector_scores, held.truth)
            )
        return model

    def top_similarity(self, queries: AnyFloats, classes: Ints, k: int = 3) -> Floats:
        """Mean cosine of the ``k`` nearest texts of the given class, per query."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        sims = q @ self._vectors32.T
        out = np.full(len(q), -1.0)
        for i, c in enumerate(np.asarray(classes)):
            mine = sims[i, self.labels == c]
            if mine.size:
                top = mine if mine.size <= k else np.partition(mine, -k)[-k:]
                out[i] = float(top.mean())
        return out

    def scores(self, queries: AnyFloats, texts: Sequence[str] | None = None) -> Floats:
        """Combined per-class scores, (queries, classes); ``texts`` are the queries' texts
        (the word view is left out without them, e.g. for a vector blended with context)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        sims = (q @ self._vectors32.T).astype(np.float64)
        out = self._combine(sims, self.labels, self.lr, q.astype(np.float64))
        if self.lexical is not None and texts is not None:
            if len(texts) != len(q):
                raise ValueError(f"{len(texts)} texts for {len(q)} query vectors")
            out = out + LR_WEIGHT * self.lexical.log_proba(texts)
        return out

    def temperature_for(self, with_text: bool) -> float:
        """The fitted temperature for scores taken with the query's text, or without it."""
        return self.temperature if with_text or self.lexical is None else self.vector_temperature

    @property
    def _vectors32(self) -> npt.NDArray[np.float32]:
        if self._cache is None or self._cache.shape != self.vectors.shape:
            self._cache = self.vectors.astype(np.float32)
        return self._cache

    def probabilities(self, scores: Floats) -> Floats:
        return self.softmax_scores(scores, self.temperature)

    @staticmethod
    def softmax_scores(scores: Floats, temperature: float) -> Floats:
        """Confidences from scores (``-inf`` for an agent with no texts gives 0)."""
        return softmax(np.where(np.isfinite(scores), scores, -1e9), temperature)

    def _combine(
        self, sims: Floats, labels: Ints, lr: LogisticRegression | None, q: Floats
    ) -> Floats:
        """The embedding views' scores: kernel plus the embedding regression."""
        out: Floats = kernel_scores(sims, labels, self.classes)
        if lr is not None:
            out = out + LR_WEIGHT * lr.log_proba(q)
        return out

    def out_of_fold(
        self, eligible: npt.NDArray[np.bool_] | None = None, *, seed: int = 0
    ) -> OutOfFold:
        """Scores of card texts by models fitted without them (k-fold cross-validation).

        Only ``eligible`` rows are held out (all when None or fewer than two). Large cards
        are subsampled to ``CV_MAX_ROWS`` rows first, so fitting stays fast.
        """
        rng = np.random.default_rng(seed)
        rows = rng.permutation(len(self.labels))[:CV_MAX_ROWS]
        vectors, labels = self.vectors[rows], self.labels[rows]
        n = len(rows)
        can_hold = np.ones(n, dtype=bool) if eligible is None else eligible[rows]
        if can_hold.sum() < 2:
            can_hold = np.ones(n, dtype=bool)
        candidates = np.flatnonzero(can_hold)
        folds = np.array_split(candidates, min(CV_FOLDS, len(candidates))) if n >= 2 else []
        scores, vector_scores, truth, similarity = [], [], [], []
        for held in folds:
            keep = np.ones(n, dtype=bool)
            keep[held] = False
            lr = _fit_lr(vectors[keep], labels[keep], self.classes)
            q = vectors[held]
            sims = q @ vectors[keep].T
            fold_scores = self._combine(sims, labels[keep], lr, q)
            vector_scores.append(fold_scores)
            if self.lexical is not None and self.pieces is not None:
                kept = [self.pieces[i] for i in rows[keep]]
                lexical = LexicalView.fit(kept, labels[keep], self.classes)
                if lexical is not None:
                    words = lexical.log_proba_pieces([self.pieces[i] for i in rows[held]])
                    fold_scores = fold_scores + LR_WEIGHT * words
            scores.append(fold_scores)
            truth.append(labels[held])
            similarity.append(_top_k_mean(sims, labels[keep], fold_scores.argmax(axis=1)))
        if not scores:
            empty = np.zeros(0)
            return OutOfFold(np.zeros((0, self.classes)), np.zeros(0, dtype=np.int64), empty)
        return OutOfFold(
            np.concatenate(scores),
            np.concatenate(truth),
            np.concatenate(similarity),
            np.concatenate(vector_scores) if self.lexical is not None else None,
        )


def _top_k_mean(sims: Floats, labels: Ints, classes: Ints, k: int = 3) -> Floats:
    """Per row of ``sims``: the mean of its ``k`` largest entries among columns of its class."""
    out = np.full(len(sims), -1.0)
    for c in np.unique(classes):
        rows = np.flatnonzero(classes == c)
        mine = sims[np.ix_(rows, np.flatnonzero(labels == c))]
        if mine.shape[1]:
            top = mine if mine.shape[1] <= k else np.partition(mine, -k, axis=1)[:, -k:]
            out[rows] = top.mean(axis=1)
    return out


def _fit_lr(vectors: Floats, labels: Ints, classes: int) -> LogisticRegression | None:
    present = np.unique(labels)
    if classes < 2 or len(present) < 2:
        return None
    if len(labels) > LR_MAX_ROWS:
        rows = np.random.default_rng(0).permutation(len(labels))[:LR_MAX_ROWS]
        vectors, labels = vectors[rows], labels[rows]
    return LogisticRegression.fit(vectors, labels, classes)
