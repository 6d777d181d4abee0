"""BM25, reciprocal rank fusion and the hybrid Retriever (in-memory store)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.retrieval import BM25, Retriever, rrf, stem, tokenize
from switchboard.agent.knowledge.store import InMemoryStore, StoredChunk
from switchboard.devtools.evals.corpus import SHIPPED_STRATEGIES
from tests.conftest import AGENTS_DIR, DOMAINS


def test_tokenize_drops_stopwords_and_stems() -> None:
    assert tokenize("The refunds were processed") == ["refund", "process"]
    assert stem("policies") == "policy" and stem("is") == "is"


def test_bm25_prefers_rare_matching_terms_and_short_documents() -> None:
    bm25 = BM25(["refund policy for annual plans", "annual plans and monthly plans", "sso setup"])
    top = bm25.top("refund on annual plan", 3)
    assert [i for i, _ in top][:2] == [0, 1]
    assert all(score > 0 for _, score in top)
    assert bm25.top("nothing matches", 3) == []
    assert bm25.idf("refund") > bm25.idf("plan")


def test_rrf_rewards_agreement() -> None:
    fused = rrf([["a", "b", "c"], ["b", "c", "d"]], k=60)
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)


def unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


@pytest.fixture
def store() -> InMemoryStore:
    s = InMemoryStore()
    chunks = [
        StoredChunk(
            "a", "error code E4012 means the webhook signature is invalid", {"source": "a"}
        ),
        StoredChunk("b", "webhooks retry failed deliveries with backoff", {"source": "b"}),
        StoredChunk("c", "invoices are emailed monthly", {"source": "c"}),
    ]
    s.upsert(chunks, np.stack([unit([0.2, 1, 0]), unit([0, 1, 0.1]), unit([1, 0, 0])]))
    return s


async def test_dense_mode_is_the_store_query(store: InMemoryStore) -> None:
    retriever = Retriever(store)
    hits = await retriever.retrieve("E4012", unit([0, 1, 0]), 2)
    assert [h.id for h in hits] == ["b", "a"]
    assert retriever.lexical_size == 0


async def test_hybrid_lifts_exact_term_matches_and_keeps_cosine_scores(
    store: InMemoryStore,
) -> None:
    retriever = Retriever(store, mode="hybrid", candidates=2)
    hits = await retriever.retrieve("what is E4012", unit([0, 1, 0]), 2)
    assert hits[0].id == "a"  # ranked 2nd by cosine, 1st by BM25
    assert retriever.lexical_size == 3
    assert hits[0].score == pytest.approx(float(unit([0.2, 1, 0]) @ unit([0, 1, 0])), rel=1e-5)
    # a chunk only BM25 found still gets its cosine from the stored embedding
    only_lexical = await retriever.retrieve("invoices", unit([0, 1, 0]), 3)
    assert {h.id for h in only_lexical} == {"a", "b", "c"}
    assert next(h for h in only_lexical if h.id == "c").score == pytest.approx(0.0, abs=1e-6)


def test_chroma_store_lists_every_chunk_with_its_embedding(tmp_path) -> None:
    from switchboard.agent.knowledge.store import ChromaStore

    store = ChromaStore.open("retrieval-test", path=str(tmp_path))
    chunks = [
        StoredChunk("x::0", "alpha", {"source": "x"}),
        StoredChunk("y::0", "beta", {"source": "y"}),
    ]
    vectors = np.stack([unit([1] + [0] * 383), unit([0, 1] + [0] * 382)])
    store.upsert(chunks, vectors)
    listed, embedded = store.all_chunks()
    by_id = {c.id: i for i, c in enumerate(listed)}
    assert set(by_id) == {"x::0", "y::0"} and embedded.shape == (2, 384)
    np.testing.assert_allclose(embedded[by_id["y::0"]], vectors[1], atol=1e-6)
    assert listed[by_id["x::0"]].metadata == {"source": "x"}


@pytest.mark.parametrize("domain", DOMAINS)
def test_make_eval_measures_the_chunking_each_agent_ships(domain: str) -> None:
    """`make eval` embeds SciFact only with the shipped chunking (the other two cost ~13 more
    minutes cold); an agent switching strategy must switch what CI measures too."""
    config = AgentConfig.load(AGENTS_DIR / domain / "agent.yaml")
    assert config.retrieval.chunking in SHIPPED_STRATEGIES
