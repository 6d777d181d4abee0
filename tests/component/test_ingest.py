from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import ChromaStore, InMemoryStore, VectorStore
from switchboard.core.embeddings import MiniLMEmbedder
from tests.conftest import AGENTS_DIR

SAMPLE_DOCS = [
    "refund-policy.md",
    "sepa-direct-debit.md",
    "invoices-and-receipts.md",
    "payment-methods.md",
    "plans-and-pricing.md",
]


@pytest.fixture
def config(tmp_path: Path) -> AgentConfig:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    for name in SAMPLE_DOCS:
        shutil.copy(AGENTS_DIR / "billing" / "knowledge" / name, knowledge / name)
    (tmp_path / "prompt.md").write_text("You are billing.")
    (tmp_path / "agent.yaml").write_text(
        "name: billing\ndescription: Billing.\nsystem_prompt: prompt.md\n"
        "knowledge_dir: knowledge\nretrieval: {chunking: structure, chunk_size: 600}\n"
    )
    return AgentConfig.load(tmp_path / "agent.yaml")


def _sources(store: VectorStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for meta in store.metadata_by_id().values():
        counts[str(meta["source"])] = counts.get(str(meta["source"]), 0) + 1
    return counts


def _check_idempotent(config: AgentConfig, store: VectorStore, embedder: MiniLMEmbedder) -> None:
    first = ingest(config, store, embedder)
    n_docs = len(list(config.knowledge_dir.glob("*.md")))
    assert len(first.added) == n_docs and first.chunks_written == store.count() > n_docs
    before = store.count()

    again = ingest(config, store, embedder)
    assert again.added == again.updated == again.removed == []
    assert len(again.unchanged) == n_docs and store.count() == before

    # an edited document is replaced, not duplicated
    refund = config.knowledge_dir / "refund-policy.md"
    refund.write_text("# Refund policy\n\nRefunds are granted within 45 days, always.\n")
    edited = ingest(config, store, embedder)
    assert edited.updated == ["refund-policy.md"] and edited.chunks_deleted > 0
    assert _sources(store)["refund-policy.md"] == 1
    hit = store.query(embedder.embed(["within how many days are refunds granted"])[0], 1)[0]
    assert "45 days" in hit.text

    # a deleted document disappears from the store
    refund.unlink()
    removed = ingest(config, store, embedder)
    assert removed.removed == ["refund-policy.md"]
    assert "refund-policy.md" not in _sources(store)

    # a new chunking recipe re-chunks everything
    config.retrieval.chunking = "fixed"
    rechunked = ingest(config, store, embedder)
    assert len(rechunked.updated) == n_docs - 1
    assert ingest(config, store, embedder).updated == []


def test_ingest_is_idempotent_in_memory(config: AgentConfig, embedder: MiniLMEmbedder) -> None:
    _check_idempotent(config, InMemoryStore(), embedder)


def test_ingest_is_idempotent_on_chroma_and_reopens_offline(
    config: AgentConfig, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    path = str(tmp_path / "chroma")
    _check_idempotent(config, ChromaStore.open("billing", path=path), embedder)
    # A fresh client reopens the collection through the registered embedding function:
    # querying by text embeds locally, with no model download.
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection("billing")
    ef = collection.configuration["embedding_function"]
    assert ef is not None and ef.name() == "switchboard-minilm-int8"
    result = collection.query(query_texts=["how do I pay by SEPA direct debit"], n_results=1)
    assert result["metadatas"] and result["metadatas"][0][0]["source"] == "sepa-direct-debit.md"
