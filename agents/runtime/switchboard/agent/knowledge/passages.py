"""Finds the passages a request may be answered from: retrieve, keep the trusted and the
relevant, screen.

The query vector is the supervisor's (it embedded the text once for routing) or, when the
agent is called directly, the agent's own. A chunk whose recorded ingestion source is not
trusted (``retrieval.trusted_sources``; no recorded source is not trusted) and a passage the
injection guard flags are dropped, logged and audited; neither reaches a prompt or an offline
answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import trace

from switchboard.agent.auditing import screened_event
from switchboard.agent.config import RetrievalConfig
from switchboard.agent.knowledge.retrieval import Retriever
from switchboard.agent.knowledge.store import Hit
from switchboard.agent.screening import PassageScreen
from switchboard.core.audit import AuditSink
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import Embedder, Vector, embed_one
from switchboard.core.errors import InvalidRequest
from switchboard.core.genai import DATA_SOURCE, OPERATION
from switchboard.core.telemetry import tracer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    query: Vector
    hits: list[Hit]  # everything retrieved, best first
    relevant: list[Hit]  # what may be answered from: relevant and not flagged
    # Further relevant passages (ranks top_k .. offline_top_k) the offline answer may quote.
    more: list[Hit] = field(default_factory=list)


class PassageFinder:
    def __init__(
        self,
        agent: str,
        collection: str,
        retriever: Retriever,
        embedder: Embedder,
        retrieval: RetrievalConfig,
        audit: AuditSink,
        screen: PassageScreen | None = None,
    ) -> None:
        self._agent = agent
        self._collection = collection
        self.retriever = retriever
        self._embedder = embedder
        self._config = retrieval
        self._audit = audit
        self._screen = screen

    async def find(self, ctx: RequestContext, text: str, given: list[float] | None) -> Found:
        ctx.deadline.check("retrieval")
        query = await self.query_vector(text, given)
        r = self._config
        wide = self._trusted(ctx, await self._retrieve(text, query, max(r.top_k, r.offline_top_k)))
        hits = wide[: r.top_k]
        top = max((h.score for h in hits), default=0.0)
        floor = r.passage_min_score if top >= r.min_score else float("inf")
        ctx.deadline.check("screening the retrieved passages")
        near = [h for h in wide if h.score >= floor]
        if near:  # the rest of the sections the best passages belong to
            near += self._trusted(ctx, await self.retriever.same_section(near[: r.top_k], query))
        kept = await self._screened(ctx, near)
        relevant = [h for h in kept if any(h is x for x in hits)]
        # Only more of the documents already retrieved: a further document the question merely
        # resembles would be quoted and cited in place of the one that answers.
        sources = {_source(h) for h in relevant}
        more = [h for h in kept if all(h is not x for x in hits) and _source(h) in sources]
        return Found(query, hits, relevant, more)

    async def query_vector(self, text: str, given: list[float] | None) -> Vector:
        if given:
            if len(given) != self._embedder.dimension:
                raise InvalidRequest(
                    f"query_embedding has {len(given)} dimensions; this agent's model "
                    f"({self._embedder.model_id}) has {self._embedder.dimension}"
                )
            vec = np.asarray(given, dtype=np.float32)
            norm = float(np.linalg.norm(vec))
            if not np.isfinite(norm) or norm == 0.0:
                raise InvalidRequest("query_embedding must be a finite, non-zero vector")
            return vec / norm
        return await embed_one(self._embedder, text)

    async def _retrieve(self, text: str, query: Vector, top_k: int) -> list[Hit]:
        with tracer().start_as_current_span(
            f"retrieval {self._collection}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                OPERATION: "retrieval",
                DATA_SOURCE: self._collection,
                "switchboard.retrieval.top_k": top_k,
                "switchboard.retrieval.mode": self.retriever.mode,
            },
        ) as span:
            hits = await self.retriever.retrieve(text, query, top_k)
            span.set_attributes(
                {
                    "switchboard.retrieval.document_ids": [h.id for h in hits],
                    "switchboard.retrieval.scores": [round(h.score, 4) for h in hits],
                }
            )
            return hits

    def _trusted(self, ctx: RequestContext, hits: list[Hit]) -> list[Hit]:
        """The hits from trusted ingestion sources; the rest are dropped and audited."""
        trusted = set(self._config.trusted_sources)
        kept: list[Hit] = []
        for hit in hits:
            origin = str(hit.metadata.get("origin", ""))
            if origin in trusted:
                kept.append(hit)
                continue
            log.warning(
                "retrieved passage dropped: its source is not trusted",
                extra={"passage": hit.id, "origin": origin or "(none recorded)"},
            )
            self._audit.submit(
                screened_event(
                    agent=self._agent,
                    request_id=ctx.request_id,
                    tenant=ctx.tenant,
                    source="provenance",
                    reason=f"untrusted_source:{origin or 'none'}",
                    score=1.0,
                    passage=hit.id,
                    added_by=str(hit.metadata.get("added_by", "")),
                )
            )
        return kept

    async def _screened(self, ctx: RequestContext, hits: list[Hit]) -> list[Hit]:
        """The passages the guard lets through; the rest are dropped, logged and audited."""
        if self._screen is None or not hits:
            return hits
        with tracer().start_as_current_span(
            "screen retrieved", attributes={"switchboard.guard.source": "retrieved"}
        ) as span:
            verdicts = await self._screen.passages([h.text for h in hits], [h.vector for h in hits])
            kept = [h for h, v in zip(hits, verdicts, strict=True) if not v.blocked]
            dropped = [(h, v) for h, v in zip(hits, verdicts, strict=True) if v.blocked]
            span.set_attribute("switchboard.guard.dropped", [h.id for h, _ in dropped])
        for hit, verdict in dropped:
            log.warning(
                "retrieved passage dropped: looks like injected instructions",
                extra={"passage": hit.id, "reason": verdict.reason},
            )
            self._audit.submit(
                screened_event(
                    agent=self._agent,
                    request_id=ctx.request_id,
                    tenant=ctx.tenant,
                    source="retrieved",
                    reason=verdict.reason,
                    score=verdict.score,
                    passage=hit.id,
                )
            )
        return kept


def _source(hit: Hit) -> str:
    return str(hit.metadata.get("source", hit.id))
