"""Retrieval on SciFact: recall@5/10, nDCG@10 and MRR per chunking strategy, dense vs hybrid.

Mirrors ``switchboard.agent.knowledge.retrieval.Retriever``: dense = cosine over chunk embeddings;
hybrid = the dense and BM25 chunk rankings (each ``DEPTH`` deep) fused by reciprocal rank
fusion. A document ranks by its best chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from switchboard.agent.knowledge.retrieval import BM25, RRF_K, rrf
from switchboard.core.embeddings import Embedder
from switchboard.devtools.evals.corpus import STRATEGIES, document_chunks
from switchboard.devtools.evals.datasets import SciFact
from switchboard.devtools.evals.metrics import ndcg_at_k, recall_at_k, reciprocal_rank

log = logging.getLogger(__name__)

DEPTH = 100
MODES = ("dense", "bm25", "hybrid")


def _docs_by_best_chunk(
    chunk_ranking: Sequence[int], chunk_doc: Sequence[str], k: int
) -> list[str]:
    seen: list[str] = []
    for c in chunk_ranking:
        doc = chunk_doc[c]
        if doc not in seen:
            seen.append(doc)
            if len(seen) == k:
                break
    return seen


def _metrics(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    qids = list(rankings)
    return {
        "recall@5": round(float(np.mean([recall_at_k(rankings[q], qrels[q], 5) for q in qids])), 4),
        "recall@10": round(
            float(np.mean([recall_at_k(rankings[q], qrels[q], 10) for q in qids])), 4
        ),
        "ndcg@10": round(float(np.mean([ndcg_at_k(rankings[q], qrels[q], 10) for q in qids])), 4),
        "mrr@10": round(
            float(np.mean([reciprocal_rank(rankings[q], qrels[q], 10) for q in qids])), 4
        ),
    }


def evaluate_strategy(data: SciFact, embedder: Embedder, strategy: str) -> dict[str, Any]:
    started = time.perf_counter()
    chunk_texts: list[str] = []
    chunk_doc: list[str] = []
    for doc_id, (title, text) in data.corpus.items():
        for chunk in document_chunks(strategy, title, text):
            chunk_texts.append(chunk)
            chunk_doc.append(doc_id)
    qids = list(data.queries)
    chunks = embedder.embed(chunk_texts)
    queries = embedder.embed([data.queries[q] for q in qids])
    embed_s = time.perf_counter() - started
    bm25 = BM25(chunk_texts)
    out: dict[str, dict[str, list[str]]] = {m: {} for m in MODES}
    for qi, qid in enumerate(qids):
        sims = chunks @ queries[qi]
        depth = min(DEPTH * 3, len(sims))
        top = np.argpartition(-sims, depth - 1)[:depth]
        dense = top[np.argsort(-sims[top], kind="stable")].tolist()
        lexical = [i for i, _ in bm25.top(data.queries[qid], depth)]
        out["dense"][qid] = _docs_by_best_chunk(dense, chunk_doc, DEPTH)
        out["bm25"][qid] = _docs_by_best_chunk(lexical, chunk_doc, DEPTH)
        fused = rrf([[str(i) for i in dense[:DEPTH]], [str(i) for i in lexical[:DEPTH]]], k=RRF_K)
        out["hybrid"][qid] = _docs_by_best_chunk([int(i) for i, _ in fused], chunk_doc, DEPTH)
    report: dict[str, Any] = {
        "chunks": len(chunk_texts),
        "embed_seconds": round(embed_s, 1),
    }
    for mode in MODES:
        report[mode] = _metrics(out[mode], data.qrels)
    return report


def evaluate_scifact(
    data: SciFact, embedder: Embedder, strategies: Sequence[str] = STRATEGIES
) -> dict[str, Any]:
    report: dict[str, Any] = {"queries": len(data.queries), "documents": len(data.corpus)}
    for strategy in strategies:
        log.info("SciFact: %s chunking", strategy)
        report[strategy] = evaluate_strategy(data, embedder, strategy)
    best = max(
        ((s, m, report[s][m]["ndcg@10"]) for s in strategies for m in MODES),
        key=lambda t: t[2],
        default=None,
    )
    if best:
        report["best"] = {"strategy": best[0], "mode": best[1], "ndcg@10": best[2]}
    return report
