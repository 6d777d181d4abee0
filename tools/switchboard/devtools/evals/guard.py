"""``switchboard eval guard``: measure the injection guard on the datasets in ``../shared/data``.

1. deepset/prompt-injections (training split) by stratified k-fold: each fold is screened by a
   guard trained on the other folds plus the shipped examples, never on the fold itself, with
   its threshold chosen on its own training data. Reported overall, English and German:
   recall at FPR ≤ 0.05 (the best threshold on the held-out scores, for comparison with the
   reference figures), and recall/FPR at the threshold the guard itself chose.
2. giskard attack prompts: recall, for the guard as shipped and with deepset added.
3. Benign in-domain requests (the demo agents' examples, the fact questions in
   ``tests/data/facts``): false-positive rate; shipped examples that are near-duplicates of
   them (cosine ≥ 0.9) are left out of training so the figure is not flattered. The agents'
   knowledge chunks go through indirect screening for its false-positive rate.
4. The security cases written with the guard (``tests/data/security/guard_cases.jsonl``:
   tricky benign requests, German and Spanish role-play and exfiltration, planted
   instructions that read like documentation), per split: ``dev`` was looked at while
   tuning, ``heldout`` was not (``guard_cases.py``).
5. Every unseen set, the guard trained on the shipped examples only: recall at FPR ≤ 0.05
   per set, obfuscated and multilingual attacks included (``guard_transfer.py``).
6. Latency of one screening, embedding included and with a precomputed vector.

The datasets and the embedding cache are :mod:`~switchboard.devtools.evals.guard_data`; the
command (printing and writing the report) is :mod:`~switchboard.devtools.evals.guard_cli`.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchboard.core.embeddings import Embedder, Matrix
from switchboard.devtools.evals.guard_cases import evaluate_cases, load_cases
from switchboard.devtools.evals.guard_data import (
    CachedEmbedder,
    benign_in_domain,
    knowledge_passages,
    load_deepset,
    load_giskard,
)
from switchboard.devtools.evals.guard_transfer import evaluate_transfer
from switchboard.guard.classifier import GuardClassifier, TrainingConfig, stratified_folds
from switchboard.guard.detector import Guard
from switchboard.guard.examples import Example, training_examples
from switchboard.guard.lang import looks_german
from switchboard.guard.rules import match_rules

MAX_FPR = 0.05
NEAR_DUPLICATE = 0.9


# --- metrics --------------------------------------------------------------------------------


def recall_at_fpr(scores: npt.NDArray[Any], labels: npt.NDArray[Any], max_fpr: float) -> float:
    """Best recall with benign FPR ≤ ``max_fpr``, blocking ``score > t`` for some ``t``."""
    neg = np.sort(scores[labels == 0])[::-1]
    pos = scores[labels == 1]
    if pos.size == 0:
        return float("nan")
    allowed = int(np.floor(max_fpr * neg.size))
    t = neg[allowed] if allowed < neg.size else -np.inf
    return float((pos > t).mean())


def _rate(mask: npt.NDArray[np.bool_]) -> float:
    return round(float(mask.mean()), 4) if mask.size else float("nan")


def _subset_metrics(
    combined: npt.NDArray[np.float32],
    clf: npt.NDArray[np.float32],
    rules: npt.NDArray[np.bool_],
    blocked: npt.NDArray[np.bool_],
    y: npt.NDArray[np.int64],
) -> dict[str, Any]:
    return {
        "n": int(y.size),
        "injections": int(y.sum()),
        f"recall_at_fpr_{MAX_FPR}": round(recall_at_fpr(combined, y, MAX_FPR), 4),
        "recall_at_fpr_0.0": round(recall_at_fpr(combined, y, 0.0), 4),
        "at_chosen_threshold": {
            "recall": _rate(blocked[y == 1]),
            "fpr": _rate(blocked[y == 0]),
        },
        "rules_only": {"recall": _rate(rules[y == 1]), "fpr": _rate(rules[y == 0])},
        f"classifier_only_recall_at_fpr_{MAX_FPR}": round(recall_at_fpr(clf, y, MAX_FPR), 4),
    }


# --- the evaluation -------------------------------------------------------------------------


def _fit(
    examples: Sequence[Example], embedder: Embedder, target_fpr: float, config: TrainingConfig
) -> GuardClassifier:
    texts = [e.text for e in examples]
    return GuardClassifier.fit(
        texts,
        [e.label for e in examples],
        embedder.embed(texts),
        sources=[e.source for e in examples],
        target_fpr=target_fpr,
        config=config,
    )


def evaluate_deepset(
    deepset: list[Example],
    shipped: list[Example],
    embedder: Embedder,
    *,
    folds: int = 5,
    target_fpr: float = 0.02,
    config: TrainingConfig | None = None,
) -> dict[str, Any]:
    config = config or TrainingConfig()
    texts = [e.text for e in deepset]
    y = np.array([e.label for e in deepset], dtype=np.int64)
    vectors = embedder.embed(texts)
    german = np.array([looks_german(t) for t in texts])
    rules = np.array([bool(match_rules(t, "user")) for t in texts])
    clf = np.zeros(y.size, dtype=np.float32)
    blocked = np.zeros(y.size, dtype=bool)
    thresholds: list[float] = []
    fold_of = stratified_folds(y, folds, seed=12345)
    for f in range(folds):
        train = [deepset[i] for i in np.flatnonzero(fold_of != f)] + list(shipped)
        model = _fit(train, embedder, target_fpr, config)
        test = np.flatnonzero(fold_of == f)
        clf[test] = model.scores([texts[i] for i in test], vectors[test])
        blocked[test] = rules[test] | (clf[test] >= model.user_threshold)
        thresholds.append(model.user_threshold)
    combined = np.where(rules, np.float32(1.0), clf).astype(np.float32)
    out: dict[str, Any] = {
        "method": f"stratified {folds}-fold; train = other folds + shipped examples",
        "target_fpr": target_fpr,
        "thresholds": [round(t, 4) for t in thresholds],
        "overall": _subset_metrics(combined, clf, rules, blocked, y),
    }
    for name, mask in (("english", ~german), ("german", german)):
        out[name] = _subset_metrics(combined[mask], clf[mask], rules[mask], blocked[mask], y[mask])
    return out


def _dedup(examples: list[Example], vectors: Matrix, against: Matrix) -> list[Example]:
    if against.size == 0:
        return examples
    sims = vectors @ against.T
    keep = sims.max(axis=1) < NEAR_DUPLICATE
    return [e for e, k in zip(examples, keep, strict=True) if k]


def evaluate_deployed(
    examples: list[Example],
    embedder: Embedder,
    giskard: list[dict[str, str]] | None,
    benign: list[str],
    passages: list[str],
    *,
    target_fpr: float,
    config: TrainingConfig,
) -> dict[str, Any]:
    benign_vecs = embedder.embed(benign)
    ex_vecs = embedder.embed([e.text for e in examples])
    kept = _dedup(examples, ex_vecs, benign_vecs)
    guard = Guard(_fit(kept, embedder, target_fpr, config), embedder)
    out: dict[str, Any] = {
        "training_examples": len(kept),
        "left_out_near_duplicates": len(examples) - len(kept),
        "user_threshold": round(guard.classifier.user_threshold, 4),
        "indirect_threshold": round(guard.classifier.indirect_threshold, 4),
    }
    if giskard is not None:
        prompts = [r["prompt"] for r in giskard]
        verdicts = guard.screen_many(prompts, "user", embedder.embed(prompts))
        by_group: dict[str, list[bool]] = {}
        for r, v in zip(giskard, verdicts, strict=True):
            by_group.setdefault(r.get("group") or r.get("name") or "?", []).append(v.blocked)
        out["giskard"] = {
            "n": len(prompts),
            "recall": round(sum(v.blocked for v in verdicts) / max(len(prompts), 1), 4),
            "by_group": {g: round(sum(b) / len(b), 4) for g, b in sorted(by_group.items())},
            "missed": [p[:100] for p, v in zip(prompts, verdicts, strict=True) if not v.blocked],
        }
    verdicts = guard.screen_many(benign, "user", benign_vecs)
    out["benign_in_domain"] = {
        "n": len(benign),
        "fpr": round(sum(v.blocked for v in verdicts) / max(len(benign), 1), 4),
        "flagged": [
            {"text": t[:100], "reason": v.reason}
            for t, v in zip(benign, verdicts, strict=True)
            if v.blocked
        ],
    }
    if passages:
        pv = guard.screen_many(passages, "retrieved", embedder.embed(passages))
        out["knowledge_passages_indirect"] = {
            "n": len(passages),
            "fpr": round(sum(v.blocked for v in pv) / len(passages), 4),
            "flagged": [
                {"text": t[:100], "reason": v.reason}
                for t, v in zip(passages, pv, strict=True)
                if v.blocked
            ],
        }
    return out


def measure_latency(guard: Guard, embedder: Embedder, texts: list[str]) -> dict[str, float]:
    embedder.embed(["warm up"])
    with_embedding: list[float] = []
    with_vector: list[float] = []
    vectors = embedder.embed(texts)
    for text, vec in zip(texts, vectors, strict=True):
        t0 = time.perf_counter()
        guard.screen_user(text)
        with_embedding.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        guard.screen_user(text, vec)
        with_vector.append((time.perf_counter() - t0) * 1000)
    return {
        "screen_with_embedding_p50_ms": round(statistics.median(with_embedding), 2),
        "screen_with_precomputed_vector_p50_ms": round(statistics.median(with_vector), 3),
        "screen_with_precomputed_vector_p95_ms": round(float(np.percentile(with_vector, 95)), 3),
    }


def run_guard_eval(
    data: Path,
    embedder: Embedder,
    *,
    cache_dir: Path,
    folds: int = 5,
    target_fpr: float = 0.02,
    config: TrainingConfig | None = None,
) -> dict[str, Any]:
    config = config or TrainingConfig()
    cached = CachedEmbedder(embedder, cache_dir)
    shipped = training_examples()
    deepset = load_deepset(data)
    giskard = load_giskard(data)
    benign = benign_in_domain()
    passages = knowledge_passages()
    report: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": embedder.model_id,
            "machine": f"{platform.machine()} {platform.python_version()} cpus={os.cpu_count()}",
            "data_dir": str(data),
            "shipped_examples": len(shipped),
            "config": config.key(),
        }
    }
    if deepset is None:
        report["deepset"] = {"skipped": f"{data}/injection/deepset/train.jsonl not found"}
    else:
        report["deepset"] = evaluate_deepset(
            deepset, shipped, cached, folds=folds, target_fpr=target_fpr, config=config
        )
    if giskard is None:
        report["giskard_skipped"] = f"{data}/injection/giskard/prompt_injections.csv not found"
    report["shipped_only"] = evaluate_deployed(
        shipped, cached, giskard, benign, passages, target_fpr=target_fpr, config=config
    )
    if deepset is not None:
        report["shipped_plus_deepset"] = evaluate_deployed(
            shipped + deepset,
            cached,
            giskard,
            benign,
            passages,
            target_fpr=target_fpr,
            config=config,
        )
    texts = [e.text for e in shipped]
    guard = Guard(_fit(shipped, cached, target_fpr, config), embedder)
    report["security_cases"] = evaluate_cases(guard, load_cases())
    report["unseen_sets"] = evaluate_transfer(Guard(guard.classifier, cached), data)
    report["latency"] = measure_latency(guard, embedder, texts[:: max(1, len(texts) // 100)])
    return report
