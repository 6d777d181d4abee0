"""Measuring a router's card index: its decisions for many query vectors, and its latency.

Shared by the routing evaluations (labelled files, CLINC150): both score vectors in batches
with the router's own scoring model, thresholds left to the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np

from switchboard.core.embeddings import Embedder, Matrix
from switchboard.core.errors import ConfigurationError
from switchboard.devtools.evals.metrics import percentile
from switchboard.supervisor.routing.calibration import RoutingCalibration, Scored
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Router
from switchboard.supervisor.routing.scoring import ScoringModel
from switchboard.supervisor.routing.self_calibration import SelfCalibration, Thresholds
from switchboard.supervisor.settings import SupervisorSettings

BATCH = 512


def score_vectors(
    index: EmbeddingIndex,
    queries: Matrix,
    truth: Sequence[str | None],
    temperature: float | None = None,
    *,
    texts: Sequence[str],
) -> Scored:
    """The router's decision for each query (its vector and its text; no thresholds)."""
    model = index.model
    if model is None:
        raise ConfigurationError("the router has no card texts")
    if len(texts) != len(queries):
        raise ConfigurationError(f"{len(texts)} texts for {len(queries)} query vectors")
    raws, probs = [], []
    for start in range(0, len(queries), BATCH):
        raw = model.scores(queries[start : start + BATCH], texts[start : start + BATCH])
        raws.append(raw)
        t = model.temperature if temperature is None else temperature
        probs.append(ScoringModel.softmax_scores(raw, t))
    raw_all = np.concatenate(raws) if raws else np.zeros((0, len(index.agents)))
    prob_all = np.concatenate(probs) if probs else np.zeros((0, len(index.agents)))
    best = prob_all.argmax(axis=1)
    similarity = model.top_similarity(queries, best) if len(queries) else np.zeros(0)
    return Scored(
        truth=list(truth),
        pred=[index.agents[i] for i in best],
        confidence=prob_all.max(axis=1) if len(queries) else np.zeros(0),
        similarity=similarity,
        scores=raw_all,
        agents=list(index.agents),
    )


def routing_latency(
    index: EmbeddingIndex, embedder: Embedder, texts: Sequence[str]
) -> dict[str, float]:
    """Per request: the whole ``Router.route`` (embedding included) and the scoring alone."""
    router = Router(
        embedder, accept_confidence=0.9, min_similarity=0.3, out_of_scope_similarity=0.2
    )
    router.use_index(index)
    totals, scoring = [], []

    async def run() -> None:
        for text in texts:
            t0 = time.perf_counter()
            decision = await router.route(text)
            t1 = time.perf_counter()
            assert decision.query_vector is not None
            index.confidences(decision.query_vector, text=text)
            t2 = time.perf_counter()
            totals.append((t1 - t0) * 1000)
            scoring.append((t2 - t1) * 1000)

    asyncio.run(run())
    return {
        "route_p50_ms": round(percentile(totals, 50), 3),
        "route_p99_ms": round(percentile(totals, 99), 3),
        "scoring_p50_ms": round(percentile(scoring, 50), 3),
        "scoring_p99_ms": round(percentile(scoring, 99), 3),
    }


def decision_measures(scored: Scored, accept: float, min_similarity: float) -> dict[str, float]:
    """How the router's own embedding step decides with these thresholds (in-scope requests):
    top-1 accuracy, the share it decides alone (coverage) and how often those are right."""
    inside = scored.in_scope
    correct = scored.correct[inside]
    taken = (scored.confidence >= accept) & (scored.similarity >= min_similarity)
    taken = taken[inside]
    return {
        "top1": round(float(correct.mean()), 4) if correct.size else 0.0,
        "coverage": round(float(taken.mean()), 4) if taken.size else 0.0,
        "accepted_accuracy": round(float(correct[taken].mean()), 4) if taken.any() else 0.0,
        "accept_confidence": round(float(accept), 4),
        "min_similarity": round(float(min_similarity), 4),
    }


def default_setting(name: str) -> float:
    """A supervisor setting's shipped default (not whatever the environment sets)."""
    return float(SupervisorSettings.model_fields[name].default)


def self_calibrated(index: EmbeddingIndex) -> RoutingCalibration | None:
    """The thresholds the supervisor fits on these cards at start-up (shipped settings)."""
    return SelfCalibration(
        Thresholds(
            default_setting("route_accept_confidence"),
            default_setting("route_min_similarity"),
            default_setting("route_out_of_scope_similarity"),
        ),
        target_accuracy=default_setting("route_self_calibration_target"),
    ).fit(index.model)
