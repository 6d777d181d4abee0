"""Fits the offline answer's confidence model on the dev split (``switchboard eval answers-fit``).

For every dev question the agent (built by its composition root, as in ``answers_run``)
finds its passages and the extractive backend chooses its quote; the features of that choice
(``agent.answering.confidence.features``) are paired with whether the quote holds every
expected fact (a question no document answers: never). A logistic regression (Newton steps,
a little L2) maps features to the probability of being right. The held-out split is not read.
It prints the coefficients to paste into ``confidence.FITTED`` and, per threshold, what
escalating below it would do on dev (answers kept right, wrong, abstentions).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from switchboard.agent.answering.confidence import FEATURES, features
from switchboard.agent.answering.extractive import choose
from switchboard.agent.app import Overrides, build_agent
from switchboard.agent.config import AgentConfig
from switchboard.agent.settings import AgentSettings
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Embedder
from switchboard.core.settings import LLMSettings
from switchboard.devtools.evals.answers import AnswerCase, Split, facts_found, load_answer_set
from switchboard.devtools.evals.answers_run import build_store
from switchboard.guard import GuardSettings

L2 = 0.1


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = L2, steps: int = 50) -> np.ndarray:
    """Weights (bias first) of a logistic regression, by Newton's method with L2 on weights."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    reg = np.eye(a.shape[1]) * l2
    reg[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (p - y) + reg @ w
        hess = (a.T * (p * (1 - p))) @ a + reg
        w -= np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
    return w


async def _collect(
    config: AgentConfig,
    cases: Sequence[AnswerCase],
    embedder: Embedder,
    store: Any,
    tmp: Path,
    guard_cache: Path,
) -> list[tuple[list[float], bool, bool]]:
    settings = AgentSettings(
        data_dir=tmp, llm=LLMSettings(ANTHROPIC_API_KEY=""),
        guard=GuardSettings(cache_dir=guard_cache),
    )  # fmt: skip
    rows = []
    async with build_agent(
        config, settings, Overrides(embedder=embedder, vector_store=store)
    ) as app:
        for case in cases:
            ctx = RequestContext(request_id=f"fit-{case.id}")
            found = await app.runtime.finder.find(ctx, case.question, None)
            if not found.relevant:
                continue  # escalated before any answer is chosen
            hits = [*found.relevant, *found.more]
            sets = [h.sentences for h in hits if h.sentences is not None]
            extract = choose(case.question, found.query, hits, sets)
            if extract is None:
                continue
            right = case.answerable and all(facts_found(case, extract.text))
            rows.append((features(extract), right, case.answerable))
    return rows


def fit_confidence(
    agents_dir: Path, cases_path: Path, embedder: Embedder, *, ingest_embedder: Embedder,
    cache_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    cases = [c for c in load_answer_set(cases_path) if c.split == Split.DEV]
    rows: list[tuple[list[float], bool, bool]] = []
    with tempfile.TemporaryDirectory(prefix="switchboard-fit-") as tmp:
        for path in sorted(agents_dir.glob("*/agent.yaml")):
            config = AgentConfig.load(path)
            mine = [c for c in cases if c.agent == config.name]
            if not mine:
                continue
            store = build_store(config, ingest_embedder)
            rows += asyncio.run(
                _collect(
                    config, mine, embedder, store, Path(tmp) / config.name, cache_dir / "guard"
                )
            )
    x = np.array([r[0] for r in rows])
    y = np.array([float(r[1]) for r in rows])
    w = fit_logistic(x, y)
    p = 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:])))
    table = []
    for t in np.arange(0.0, 0.95, 0.05):
        keep = p >= t
        table.append({
            "threshold": round(float(t), 2),
            "kept_right": int(np.sum(keep & (y == 1))),
            "kept_wrong_answerable": int(np.sum(keep & (y == 0) & np.array([r[2] for r in rows]))),
            "kept_unanswerable": int(np.sum(keep & ~np.array([r[2] for r in rows]))),
            "escalated_right": int(np.sum(~keep & (y == 1))),
        })  # fmt: skip
    return {
        "cases": len(rows),
        "right": int(y.sum()),
        "features": list(FEATURES),
        "bias": round(float(w[0]), 3),
        "weights": [round(float(v), 3) for v in w[1:]],
        "thresholds": table,
    }
