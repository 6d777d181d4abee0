"""Routing on CLINC150 (``make eval``): one card per domain, accuracy, calibration, OOS.

Card examples are drawn from the training split (random, or covering every intent), the
thresholds are fitted on held-out validation data, and the test split measures accuracy,
calibration error, abstention and out-of-scope recall, against nearest-centroid and k-NN
baselines on the same examples; also accuracy as the examples grow, and routing latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from switchboard.core.embeddings import Embedder, Matrix
from switchboard.core.types import AgentCard
from switchboard.devtools.evals.datasets import Clinc
from switchboard.devtools.evals.metrics import accuracy_at_coverage, macro_f1
from switchboard.devtools.evals.routing_measures import (
    decision_measures,
    default_setting,
    routing_latency,
    score_vectors,
    self_calibrated,
)
from switchboard.supervisor.routing.calibration import Scored, accept_threshold, fit_calibration
from switchboard.supervisor.routing.index import EmbeddingIndex

DOMAIN_DESCRIPTIONS = {
    "auto_and_commute": "Cars and commuting: maintenance, tyres, gas, traffic, directions, rides.",
    "banking": "Bank accounts: balances, transfers, bills, transactions, fraud and PINs.",
    "credit_cards": "Credit cards: limits, rewards, payments, lost/declined cards, credit score.",
    "home": "The home: shopping and to-do lists, reminders, calendar, smart devices and lights.",
    "kitchen_and_dining": "Cooking and food: recipes, nutrition, restaurants and reservations.",
    "meta": "The assistant itself: settings, name, language, voice and how to talk to it.",
    "small_talk": "Small talk: greetings, jokes, compliments and questions about the assistant.",
    "travel": "Travel: flights, hotels, visas, luggage, exchange rates and trip planning.",
    "utility": "Everyday utilities: time, date, weather, timers, alarms, math and spelling.",
    "work": "Work: pay, PTO, benefits, meetings, schedules and income tax.",
}
RANDOM_SEEDS = (0, 1, 2)
CURVE_SIZES = (5, 10, 20, 30, 60, 100)


@dataclass
class ClincVectors:
    train: Matrix
    val: Matrix
    test: Matrix
    oos_val: Matrix
    oos_test: Matrix
    description: Matrix


def embed_clinc(clinc: Clinc, embedder: Embedder) -> ClincVectors:
    return ClincVectors(
        train=embedder.embed([t for t, _ in clinc.train]),
        val=embedder.embed([t for t, _ in clinc.val]),
        test=embedder.embed([t for t, _ in clinc.test]),
        oos_val=embedder.embed(clinc.oos_val),
        oos_test=embedder.embed(clinc.oos_test),
        description=embedder.embed([DOMAIN_DESCRIPTIONS.get(d, d) for d in clinc.domains]),
    )


def select_examples(clinc: Clinc, per_domain: int | None, protocol: str, seed: int) -> np.ndarray:
    """Rows of the training split used as card examples.

    ``random``: ``per_domain`` rows drawn at random per domain. ``covering``: the same number
    spread evenly over the domain's intents (what a card author does: an example or two per
    sub-topic). ``None``: the whole training split.
    """
    if per_domain is None:
        return np.arange(len(clinc.train))
    rng = np.random.default_rng(seed)
    domains = np.array([d for _, d in clinc.train])
    rows: list[int] = []
    if protocol == "random":
        for d in clinc.domains:
            mine = np.flatnonzero(domains == d)
            rows.extend(rng.choice(mine, min(per_domain, len(mine)), replace=False).tolist())
        return np.array(sorted(rows))
    intents = np.array(clinc.train_intents)
    for d in clinc.domains:
        mine_intents = sorted(set(intents[domains == d]))
        pools = {i: list(rng.permutation(np.flatnonzero(intents == i))) for i in mine_intents}
        taken = 0
        while taken < per_domain and any(pools.values()):
            for i in mine_intents:
                if taken < per_domain and pools[i]:
                    rows.append(int(pools[i].pop()))
                    taken += 1
    return np.array(sorted(rows))


def clinc_index(
    clinc: Clinc, vecs: ClincVectors, rows: np.ndarray, *, calibrate: bool = True
) -> EmbeddingIndex:
    domain_of = {d: i for i, d in enumerate(clinc.domains)}
    cards = [AgentCard(name=d, description=DOMAIN_DESCRIPTIONS.get(d, d)) for d in clinc.domains]
    labels = np.concatenate(
        [np.arange(len(clinc.domains)), [domain_of[clinc.train[r][1]] for r in rows]]
    ).astype(np.int64)
    vectors = np.concatenate([vecs.description, vecs.train[rows]]).astype(np.float32)
    examples = np.concatenate([np.zeros(len(clinc.domains), bool), np.ones(len(rows), bool)])
    texts = [c.description for c in cards] + [clinc.train[r][0] for r in rows]
    return EmbeddingIndex.from_vectors(
        cards, vectors, labels, calibrate=calibrate, examples=examples, texts=texts
    )


def _baselines(clinc: Clinc, vecs: ClincVectors, rows: np.ndarray) -> dict[str, float]:
    """Nearest centroid and k-NN (k=5, majority vote) on the same examples."""
    labels = np.array([clinc.domains.index(clinc.train[r][1]) for r in rows])
    x = vecs.train[rows]
    truth = np.array([clinc.domains.index(d) for _, d in clinc.test])
    centroids = np.stack([x[labels == c].mean(axis=0) for c in range(len(clinc.domains))])
    centroid_pred = (vecs.test @ centroids.T).argmax(axis=1)
    sims = vecs.test @ x.T
    top = np.argpartition(-sims, 5, axis=1)[:, :5]
    votes = np.zeros((len(truth), len(clinc.domains)))
    for j in range(5):
        np.add.at(
            votes,
            (np.arange(len(truth)), labels[top[:, j]]),
            1 + 1e-3 * sims[np.arange(len(truth)), top[:, j]],
        )
    knn_pred = votes.argmax(axis=1)
    return {
        "centroid_accuracy": round(float((centroid_pred == truth).mean()), 4),
        "knn5_accuracy": round(float((knn_pred == truth).mean()), 4),
    }


def _calibration_set(
    clinc: Clinc, vecs: ClincVectors, per_domain: int, seed: int
) -> tuple[Matrix, list[str | None], list[str]]:
    """Held-out labelled data for threshold fitting: part of ``val`` plus ``oos_val``."""
    rng = np.random.default_rng(seed + 100)
    domains = np.array([d for _, d in clinc.val])
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(domains == d), per_domain, replace=False) for d in clinc.domains]
    )
    vectors = np.concatenate([vecs.val[rows], vecs.oos_val])
    truth: list[str | None] = [clinc.val[r][1] for r in rows] + [None] * len(vecs.oos_val)
    return vectors, truth, [clinc.val[r][0] for r in rows] + list(clinc.oos_val)


def evaluate_clinc_setting(
    clinc: Clinc,
    vecs: ClincVectors,
    rows: np.ndarray,
    *,
    seed: int = 0,
    calibration_per_domain: int = 30,
) -> dict[str, Any]:
    """One card set: accuracy, calibration, thresholds fitted on held-out data, OOS."""
    started = time.perf_counter()
    index = clinc_index(clinc, vecs, rows)
    fit_s = time.perf_counter() - started
    truth = [d for _, d in clinc.test]
    test = score_vectors(
        index,
        np.concatenate([vecs.test, vecs.oos_test]),
        [*truth, *[None] * len(vecs.oos_test)],
        texts=[t for t, _ in clinc.test] + list(clinc.oos_test),
    )
    inside = test.in_scope
    correct_in = test.correct[inside]
    conf_in = test.confidence[inside]
    pred_in = [p for p, i in zip(test.pred, inside, strict=True) if i]
    cal_vectors, cal_truth, cal_texts = _calibration_set(clinc, vecs, calibration_per_domain, seed)
    calibration = fit_calibration(score_vectors(index, cal_vectors, cal_truth, texts=cal_texts))
    accept = calibration.route_accept_confidence
    oos_cut = calibration.route_out_of_scope_similarity
    kept = test.similarity >= oos_cut
    accepted = inside & kept & (test.confidence >= accept)
    # expected calibration error over 10 confidence bins (in-scope test set)
    bins = np.clip((conf_in * 10).astype(int), 0, 9)
    ece = sum(
        abs(float(correct_in[bins == b].mean()) - float(conf_in[bins == b].mean()))
        * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    _thr95, cov95, _ = accept_threshold(correct_in, conf_in, 0.95)
    # the best out-of-scope recall any cut-off reaches while in-scope accuracy stays >= 0.80
    oos_at_80 = 0.0
    for cut in np.unique(np.round(test.similarity, 3)):
        keep = test.similarity >= cut
        if float((test.correct & keep)[inside].mean()) < 0.80:
            break
        oos_at_80 = float((~keep[~inside]).mean())
    return {
        "examples_per_domain": int(len(rows) / len(clinc.domains)),
        "fit_seconds": round(fit_s, 2),
        "temperature": round(index.temperature, 5),
        "accuracy": round(float(correct_in.mean()), 4),
        "macro_f1": round(macro_f1(truth, pred_in, clinc.domains), 4),
        "ece": round(float(ece), 4),
        "accepted_accuracy_at_70pct": round(accuracy_at_coverage(correct_in, conf_in, 0.7), 4),
        "accepted_accuracy_at_50pct": round(accuracy_at_coverage(correct_in, conf_in, 0.5), 4),
        "coverage_at_95pct_accuracy_oracle": round(cov95, 4),
        "oos_recall_at_in_scope_80_oracle": round(oos_at_80, 4),
        "thresholds_fitted_on_val": calibration.settings_values(),
        "with_fitted_thresholds": {
            "coverage": round(float(accepted[inside].mean()), 4),
            "accepted_accuracy": round(
                float(test.correct[accepted].mean()) if accepted.any() else 0.0, 4
            ),
            "abstention_rate": round(float(1 - accepted[inside].mean()), 4),
            "oos_recall": round(float((~kept[~inside]).mean()), 4),
            "in_scope_accuracy": round(float((test.correct & kept)[inside].mean()), 4),
        },
        # the thresholds a deployment runs with (no labelled data of its own)
        "with_default_thresholds": decision_measures(
            test,
            default_setting("route_accept_confidence"),
            default_setting("route_min_similarity"),
        ),
        **_self_calibrated(index, test),
        **_baselines(clinc, vecs, rows),
    }


def _self_calibrated(index: EmbeddingIndex, test: Scored) -> dict[str, Any]:
    fitted = self_calibrated(index)
    if fitted is None:
        return {}
    return {
        "with_self_calibration": decision_measures(
            test, fitted.route_accept_confidence, fitted.route_min_similarity
        )
    }


def evaluate_clinc(
    clinc: Clinc,
    embedder: Embedder,
    *,
    latency_embedder: Embedder | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    vecs = embed_clinc(clinc, embedder)
    report: dict[str, Any] = {}
    covering = evaluate_clinc_setting(clinc, vecs, select_examples(clinc, 30, "covering", 0))
    report["covering_30"] = covering
    randoms = [
        evaluate_clinc_setting(clinc, vecs, select_examples(clinc, 30, "random", s), seed=s)
        for s in (RANDOM_SEEDS[:1] if quick else RANDOM_SEEDS)
    ]
    report["random_30"] = _mean_of(randoms)
    report["random_30"]["seeds"] = len(randoms)
    report["full"] = evaluate_clinc_setting(clinc, vecs, select_examples(clinc, None, "random", 0))
    curve = {}
    truth, test_texts = [d for _, d in clinc.test], [t for t, _ in clinc.test]
    for n in CURVE_SIZES:
        accs = []
        for s in RANDOM_SEEDS[:1] if quick else RANDOM_SEEDS:
            index = clinc_index(
                clinc, vecs, select_examples(clinc, n, "random", s), calibrate=False
            )
            scored = score_vectors(index, vecs.test, truth, texts=test_texts)
            accs.append(float(scored.correct.mean()))
        curve[str(n)] = round(float(np.mean(accs)), 4)
    curve["full"] = report["full"]["accuracy"]
    report["accuracy_vs_examples_random"] = curve
    if latency_embedder is not None:
        index = clinc_index(clinc, vecs, select_examples(clinc, 30, "covering", 0))
        texts = [t for t, _ in clinc.test[:: max(1, len(clinc.test) // 300)]]
        report["latency_30"] = routing_latency(index, latency_embedder, texts)
    return report


def _mean_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = _mean_of([r[key] for r in runs])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(float(np.mean([r[key] for r in runs])), 4)
        else:
            out[key] = value
    return out
