"""Loads an agent's knowledge folder into its vector store, idempotently, recording provenance.

A document's chunks carry the hash of its content, of the chunking settings and of the
sentence-data schema; re-ingesting skips unchanged documents, replaces edited ones (and every
document once when the schema changes) and removes deleted ones, so running it twice never
duplicates anything. Each chunk is stored with its sentences and their embeddings
(``knowledge.sentences``), so an offline answer embeds nothing but the question. Each chunk
also records where it came from (``origin``: the ingestion source, ``knowledge-dir`` for the
agent's own folder), who added this version (``added_by``) and when: retrieval only serves
chunks whose origin the agent trusts (``retrieval.trusted_sources``), so a document slipped in
through another route is never retrieved. Each source is ingested (and its deleted documents
removed) on its own.
"""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.chunking import chunk_document, document_title, section_headings
from switchboard.agent.knowledge.sentences import SENTENCE_SCHEMA, encode, split_sentences
from switchboard.agent.knowledge.store import Metadata, StoredChunk, VectorStore, open_store
from switchboard.agent.settings import AgentSettings
from switchboard.core.embeddings import Embedder
from switchboard.core.errors import ConfigurationError

DOC_SUFFIXES = (".md", ".markdown", ".txt")
#: The agent's own knowledge folder, reviewed with the code: the one source trusted by default.
DEFAULT_SOURCE = "knowledge-dir"
PROVENANCE_VERSION = "p1"  # part of each document's hash: chunks from before provenance redo


@dataclass(frozen=True)
class Provenance:
    """Who added documents, through which route (an ingestion source name)."""

    source: str = DEFAULT_SOURCE
    added_by: str = ""

    def resolved_added_by(self) -> str:
        if self.added_by:
            return self.added_by
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"


@dataclass
class IngestReport:
    agent: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deleted: int = 0

    def summary(self) -> str:
        return (
            f"{self.agent}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged "
            f"({self.chunks_written} chunks written, {self.chunks_deleted} deleted)"
        )


def _documents(folder: Path) -> dict[str, str]:
    docs: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in DOC_SUFFIXES:
            try:
                docs[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigurationError(f"{path} is not UTF-8 text: {exc}") from exc
    return docs


def knowledge_topics(folder: Path) -> list[str]:
    """Titles and heading paths of every document: what this agent knows about."""
    topics: list[str] = []
    for source, text in _documents(folder).items():
        title = document_title(text, Path(source).stem.replace("-", " ").capitalize())
        for topic in [title, *section_headings(text)]:
            if topic not in topics:
                topics.append(topic)
    return topics


def _doc_hash(text: str, config: AgentConfig, source: str) -> str:
    r = config.retrieval
    recipe = (
        f"{r.chunking}:{r.chunk_size}:{r.chunk_overlap}:sentences-v{SENTENCE_SCHEMA}"
        f":{PROVENANCE_VERSION}:{source}\n"
    )
    return hashlib.sha256((recipe + text).encode()).hexdigest()


def ingest(
    config: AgentConfig,
    store: VectorStore,
    embedder: Embedder,
    *,
    provenance: Provenance | None = None,
    folder: Path | None = None,
) -> IngestReport:
    """Ingests ``folder`` (default: the agent's knowledge folder) as ``provenance.source``."""
    report = IngestReport(agent=config.name)
    prov = provenance or Provenance()
    added_by = prov.resolved_added_by()
    added_at = datetime.now(UTC).isoformat(timespec="seconds")
    docs = _documents(folder or config.knowledge_dir)
    existing: dict[str, tuple[str, set[str]]] = {}
    for chunk_id, meta in store.metadata_by_id().items():
        if str(meta.get("origin", DEFAULT_SOURCE)) != prov.source:
            continue  # another source's documents: not this run's to replace or remove
        source = str(meta.get("source", ""))
        digest, ids = existing.setdefault(source, (str(meta.get("doc_hash", "")), set()))
        ids.add(chunk_id)
        if digest != meta.get("doc_hash"):  # mixed hashes: a half-replaced doc, redo it
            existing[source] = ("", ids)

    r = config.retrieval
    for source, text in docs.items():
        digest = _doc_hash(text, config, prov.source)
        old_hash, old_ids = existing.get(source, ("", set()))
        if old_hash == digest:
            report.unchanged.append(source)
            continue
        title = document_title(text, Path(source).stem.replace("-", " ").capitalize())
        pieces = chunk_document(text, r.chunking, r.chunk_size, r.chunk_overlap)
        sentences = [split_sentences(c.text, c.heading) for c in pieces]
        # One run of the model for the document: its chunks, then all their sentences.
        flat = [s for group in sentences for s in group]
        vectors = embedder.embed([c.text for c in pieces] + flat)
        chunk_vectors, sentence_vectors = vectors[: len(pieces)], vectors[len(pieces) :]
        chunks = []
        start = 0
        for c, group in zip(pieces, sentences, strict=True):
            metadata: Metadata = {
                "source": source,
                "title": title,
                "heading": c.heading,
                "chunk": c.index,
                "doc_hash": digest,
                "origin": prov.source,
                "added_by": added_by,
                "added_at": added_at,
            }
            metadata.update(encode(group, sentence_vectors[start : start + len(group)]))
            start += len(group)
            chunks.append(StoredChunk(id=f"{source}::{c.index}", text=c.text, metadata=metadata))
        # Write the new version first, then drop leftovers: never a moment with nothing.
        store.upsert(chunks, chunk_vectors)
        stale = sorted(old_ids - {c.id for c in chunks})
        store.delete(stale)
        report.chunks_written += len(chunks)
        report.chunks_deleted += len(stale)
        (report.updated if old_ids else report.added).append(source)

    for source, (_, ids) in existing.items():
        if source not in docs:
            store.delete(sorted(ids))
            report.removed.append(source)
            report.chunks_deleted += len(ids)
    return report


def ingest_paths(
    configs: list[Path],
    settings: AgentSettings,
    embedder: Embedder,
    *,
    provenance: Provenance | None = None,
    folder: Path | None = None,
) -> list[IngestReport]:
    """Ingests each agent config's knowledge folder (or ``folder``) into its own store."""
    reports = []
    for path in configs:
        config = AgentConfig.load(path)
        store = open_store(config, settings)
        reports.append(ingest(config, store, embedder, provenance=provenance, folder=folder))
    return reports
