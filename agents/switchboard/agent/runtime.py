"""The agent's request path: retrieve, then answer with Claude or the offline backend."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np
from opentelemetry import trace

from switchboard.agent.config import AgentConfig
from switchboard.agent.extractive import extract_answer
from switchboard.agent.prompting import Prompt, build_prompt, cited_indexes
from switchboard.agent.retrieval import Retriever
from switchboard.agent.store import Hit, VectorStore
from switchboard.core.embeddings import Embedder, Vector, embed_one
from switchboard.core.errors import DeadlineExceeded, InvalidRequest, UpstreamError
from switchboard.core.genai import AGENT_NAME, DATA_SOURCE, OPERATION
from switchboard.core.llm import LLM, Message, TokenUsage
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.telemetry import tracer
from switchboard.core.textcheck import validate_text
from switchboard.core.types import (
    AgentAnswer,
    AgentRequest,
    AgentUsage,
    AnswerMode,
    Citation,
    Outcome,
    UsageReport,
)

log = logging.getLogger(__name__)

ESCALATION_MESSAGE = (
    "I couldn't find a reliable answer to this in our {domain} documentation, so I've passed "
    "your request to a person on the team, who will follow up."
)
SNIPPET_CHARS = 300


def _confidence(score: float, floor: float) -> float:
    """Maps the best passage's cosine to [0, 1]: ``floor`` -> 0.1, 0.75 and above -> 0.95."""
    span = max(0.75 - floor, 1e-6)
    return float(np.clip(0.1 + 0.85 * (score - floor) / span, 0.05, 0.95))


def _citation(hit: Hit) -> Citation:
    snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS] + "…"
    return Citation(
        source_id=str(hit.metadata.get("source", hit.id)),
        title=str(hit.metadata.get("title", "")),
        snippet=snippet,
        score=round(hit.score, 4),
    )


class AgentRuntime:
    def __init__(
        self,
        config: AgentConfig,
        *,
        store: VectorStore,
        embedder: Embedder,
        llm: LLM | None,
        prices: dict[str, ModelPrice],
        max_text_chars: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self.retriever = Retriever(store, mode=config.retrieval.mode)
        self._embedder = embedder
        self._llm = llm
        self._prices = prices
        self._max_text_chars = max_text_chars
        self._system_prompt = config.system_prompt_text()
        self._clock = clock or (lambda: asyncio.get_running_loop().time())

    async def answer(self, request: AgentRequest, *, deadline: float | None = None) -> AgentAnswer:
        """Answers one request. ``deadline`` is on this runtime's clock (None: no deadline)."""
        trace.get_current_span().set_attribute(AGENT_NAME, self.config.name)
        text = validate_text(request.text, max_chars=self._max_text_chars)
        query = await self._query_vector(text, request.query_embedding)
        r = self.config.retrieval
        hits = await self._retrieve(text, query, r.top_k)
        relevant = [h for h in hits if h.score >= r.min_score]
        if not relevant:
            log.info("escalating: nothing relevant retrieved", extra={"top": _top(hits)})
            return AgentAnswer(
                agent=self.config.name,
                text=ESCALATION_MESSAGE.format(domain=self.config.name),
                outcome=Outcome.ESCALATED,
                mode=AnswerMode.NONE,
                confidence=_confidence(_top(hits), r.min_score) if hits else 0.0,
                usage=UsageReport(breakdown=[AgentUsage(agent=self.config.name)]),
            )
        if self._llm is not None:
            remaining = None if deadline is None else deadline - self._clock()
            if remaining is not None and remaining <= 0.05:
                raise DeadlineExceeded("deadline reached before the LLM call could start")
            try:
                return await self._answer_with_llm(self._llm, text, relevant, remaining)
            except UpstreamError as exc:
                log.warning("LLM failed; answering offline", extra={"error": exc.message})
        return await self._answer_offline(text, query, relevant)

    async def _retrieve(self, text: str, query: Vector, top_k: int) -> list[Hit]:
        collection = self.config.collection_name
        with tracer().start_as_current_span(
            f"retrieval {collection}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                OPERATION: "retrieval",
                DATA_SOURCE: collection,
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

    async def _query_vector(self, text: str, given: list[float] | None) -> Vector:
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

    async def _answer_with_llm(
        self, llm: LLM, text: str, hits: list[Hit], timeout: float | None
    ) -> AgentAnswer:
        c = self.config.llm
        prompt: Prompt = build_prompt(self._system_prompt, text, hits, c.context_token_budget)
        completion = await llm.complete(
            system=prompt.system,
            messages=[Message(role="user", content=prompt.user)],
            max_tokens=c.max_tokens,
            timeout=timeout,
        )
        cited = cited_indexes(completion.text, len(prompt.passages)) or [1]
        passages = [prompt.passages[i - 1] for i in cited]
        usage = self._usage(completion.model or llm.model, completion.usage)
        return AgentAnswer(
            agent=self.config.name,
            text=completion.text.strip(),
            outcome=Outcome.ANSWERED,
            mode=AnswerMode.LLM,
            confidence=_confidence(max(p.score for p in passages), self.config.retrieval.min_score),
            citations=[_citation(p) for p in passages],
            usage=usage,
        )

    async def _answer_offline(self, text: str, query: Vector, hits: list[Hit]) -> AgentAnswer:
        with tracer().start_as_current_span(
            "extract_answer", attributes={"switchboard.mode": AnswerMode.OFFLINE.value}
        ):
            answer, used = await asyncio.to_thread(
                extract_answer, text, query, hits, self._embedder
            )
        if not answer:
            used = [1]
            answer = f"Offline answer (no LLM was used): see {hits[0].metadata.get('title')} [1]."
        passages = [hits[i - 1] for i in used]
        return AgentAnswer(
            agent=self.config.name,
            text=answer,
            outcome=Outcome.DEGRADED,
            mode=AnswerMode.OFFLINE,
            confidence=_confidence(max(p.score for p in passages), self.config.retrieval.min_score),
            citations=[_citation(p) for p in passages],
            usage=UsageReport(breakdown=[AgentUsage(agent=self.config.name)]),
        )

    def _usage(self, model: str, tokens: TokenUsage) -> UsageReport:
        cost = estimate_cost(model, tokens, self._prices)
        return UsageReport(
            breakdown=[AgentUsage.from_tokens(self.config.name, model, tokens, cost)]
        )


def _top(hits: list[Hit]) -> float:
    return max((h.score for h in hits), default=0.0)
