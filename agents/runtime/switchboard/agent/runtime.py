"""The agent's request path: retrieve, screen, then answer with Claude (and tools) or offline.

With tools, the LLM path is a bounded loop: Claude -> tool calls -> results -> ... -> a final
answer, within the agent's turn limit and the request's token/cost budget. A tool that
changes something ends the loop with NEEDS_CONFIRMATION; a later request confirming it runs
it once, without the LLM. The LLM sits behind a circuit breaker: while it is open, answers
come from the offline backend at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import trace

from switchboard.agent.answering.extractive import extract_answer
from switchboard.agent.answering.prompting import (
    Prompt,
    build_prompt,
    cited_indexes,
    estimate_tokens,
    renumber_markers,
)
from switchboard.agent.auditing import AuditSink, NoAudit, screened_event
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.retrieval import Retriever
from switchboard.agent.knowledge.store import Hit, VectorStore
from switchboard.agent.llm_breaker import LLMBreaker
from switchboard.agent.screening import PassageScreen
from switchboard.agent.tools import ToolContext
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.breaker import CircuitBreaker
from switchboard.core.budget import Budget
from switchboard.core.embeddings import Embedder, Vector, embed_one
from switchboard.core.errors import DeadlineExceeded, InvalidRequest, UpstreamError
from switchboard.core.genai import AGENT_NAME, DATA_SOURCE, OPERATION
from switchboard.core.llm import LLM, Block, Completion, Message, TokenUsage, ToolSpec
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
    PendingAction,
    UsageReport,
)

log = logging.getLogger(__name__)

ESCALATION_MESSAGE = (
    "I couldn't find a reliable answer to this in our {domain} documentation, so I've passed "
    "your request to a person on the team, who will follow up."
)
SNIPPET_CHARS = 300
DEADLINE_MARGIN_S = 0.05
MIN_OUTPUT_TOKENS = 16
#: Request metadata keys the agent reads (set by the supervisor or the caller).
TENANT_KEY = "tenant"
CUSTOMER_KEY = "customer_id"
GUARD_KEY = "switchboard.guard"


def _confidence(score: float, floor: float) -> float:
    """Maps the best passage's cosine to [0, 1]: ``floor`` -> 0.1, 0.75 and above -> 0.95."""
    span = max(0.75 - floor, 1e-6)
    return float(np.clip(0.1 + 0.85 * (score - floor) / span, 0.05, 0.95))


@dataclass
class _Tally:
    """LLM usage summed over every turn of one request, and whether the breaker heard back."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    verdict: bool = False  # the breaker recorded a success or failure for this request
    tools: list[str] = field(default_factory=list)

    def add(self, completion: Completion, model: str, cost: float) -> None:
        u = completion.usage
        self.model = model
        self.input_tokens += u.input_tokens
        self.output_tokens += u.output_tokens
        self.cache_read += u.cache_read_input_tokens
        self.cache_creation += u.cache_creation_input_tokens
        self.cost_usd += cost
        self.calls += 1

    def report(self, agent: str) -> UsageReport:
        if not self.calls:
            return UsageReport(breakdown=[AgentUsage(agent=agent)])
        tokens = TokenUsage(
            self.input_tokens, self.output_tokens, self.cache_read, self.cache_creation
        )
        return UsageReport(
            breakdown=[AgentUsage.from_tokens(agent, self.model, tokens, self.cost_usd)]
        )


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
        tools: ToolRunner | None = None,
        screen: PassageScreen | None = None,
        audit: AuditSink | None = None,
        breaker: LLMBreaker | None = None,
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
        self._tools = tools
        self._specs: list[ToolSpec] = tools.tools.specs() if tools is not None else []
        self._specs_tokens = estimate_tokens(json.dumps([t.model_dump() for t in self._specs]))
        self._screen = screen
        self._audit: AuditSink = audit or NoAudit()
        self.breaker = breaker or LLMBreaker(CircuitBreaker("llm"), agent=config.name)

    async def answer(self, request: AgentRequest, *, deadline: float | None = None) -> AgentAnswer:
        """Answers one request. ``deadline`` is on this runtime's clock (None: no deadline)."""
        trace.get_current_span().set_attribute(AGENT_NAME, self.config.name)
        text = validate_text(request.text, max_chars=self._max_text_chars)
        if request.confirm_action:
            return await self._confirm(request, deadline)
        query = await self._query_vector(text, request.query_embedding)
        r = self.config.retrieval
        hits = await self._retrieve(text, query, r.top_k)
        floor = r.passage_min_score if _top(hits) >= r.min_score else float("inf")
        relevant = await self._screened([h for h in hits if h.score >= floor], request)
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
        tally = _Tally()
        if self._llm is not None:
            if self.breaker.allow():
                try:
                    answer = await self._answer_with_llm(
                        self._llm, request, text, relevant, deadline, tally
                    )
                except UpstreamError as exc:
                    log.warning("LLM failed; answering offline", extra={"error": exc.message})
                else:
                    if answer is not None:
                        return answer
                    log.warning(
                        "no final answer within the turn limit; answering offline",
                        extra={"max_turns": self.config.llm.max_turns, "tools": tally.tools},
                    )
                finally:
                    if not tally.verdict:
                        self.breaker.released()  # admitted as a probe but never called
            else:
                log.info(
                    "LLM circuit open: answering offline",
                    extra={"retry_after_s": round(self.breaker.breaker.retry_after_s, 1)},
                )
                trace.get_current_span().set_attribute("switchboard.breaker.llm", "open")
        return await self._answer_offline(text, query, relevant, tally)

    # -- retrieval and screening -------------------------------------------------------------

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

    async def _screened(self, hits: list[Hit], request: AgentRequest) -> list[Hit]:
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
                    agent=self.config.name,
                    request_id=request.request_id,
                    tenant=request.metadata.get(TENANT_KEY, ""),
                    source="retrieved",
                    reason=verdict.reason,
                    score=verdict.score,
                    passage=hit.id,
                )
            )
        return kept

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

    # -- the LLM path --------------------------------------------------------------------------

    async def _answer_with_llm(
        self,
        llm: LLM,
        request: AgentRequest,
        text: str,
        hits: list[Hit],
        deadline: float | None,
        tally: _Tally,
    ) -> AgentAnswer | None:
        """The tool loop; None when the turn limit ran out before a final answer."""
        c = self.config.llm
        guarded = request.metadata.get(GUARD_KEY) == "suspicious"
        if guarded:
            trace.get_current_span().set_attribute("switchboard.guard.prompt", True)
        prompt: Prompt = build_prompt(
            self._system_prompt,
            text,
            hits,
            c.context_token_budget,
            tools=bool(self._specs),
            guarded=guarded,
        )
        messages: list[Message] = [Message(role="user", content=prompt.user)]
        budget = request.budget
        step = 0
        for _turn in range(c.max_turns if self._specs else 1):
            completion, budget = await self._complete(
                llm, prompt.system, messages, budget, deadline, tally
            )
            if not completion.tool_calls or self._tools is None:
                if not completion.text.strip():
                    return None
                return self._final(completion.text, prompt, tally)
            blocks: list[Block] = [completion.text] if completion.text else []
            messages.append(Message("assistant", (*blocks, *completion.tool_calls)))
            results: list[Block] = []
            for call in completion.tool_calls:
                step += 1
                tally.tools.append(call.name)
                outcome = await self._tools.call(
                    call, self._context(request, step), timeout=self._time_left(deadline)
                )
                if isinstance(outcome, PendingAction):
                    return self._needs_confirmation(outcome, hits, tally)
                results.append(outcome)
            messages.append(Message("user", tuple(results)))
        return None

    async def _complete(
        self,
        llm: LLM,
        system: str,
        messages: list[Message],
        budget: Budget,
        deadline: float | None,
        tally: _Tally,
    ) -> tuple[Completion, Budget]:
        """One model call within the deadline and the budget; reports to the breaker."""
        timeout = self._time_left(deadline)
        estimated = (
            estimate_tokens(system)
            + sum(estimate_tokens(json.dumps(m.to_api()["content"])) for m in messages)
            + (self._specs_tokens if self._specs else 0)
        )
        budget.require_llm("the agent's answer", min_tokens=estimated + MIN_OUTPUT_TOKENS)
        max_tokens = max(
            MIN_OUTPUT_TOKENS, budget.cap_output(self.config.llm.max_tokens, estimated)
        )
        try:
            completion = await llm.complete(
                system=system,
                messages=messages,
                max_tokens=max_tokens,
                tools=self._specs,
                timeout=timeout,
            )
        except UpstreamError:
            tally.verdict = True
            await self.breaker.failed()
            raise
        tally.verdict = True
        await self.breaker.succeeded()
        model = completion.model or llm.model
        cost = estimate_cost(model, completion.usage, self._prices)
        tally.add(completion, model, cost)
        spent = completion.usage.total_input_tokens + completion.usage.output_tokens
        return completion, budget.spend(tokens=spent, cost_usd=cost)

    def _time_left(self, deadline: float | None) -> float | None:
        """Seconds left for the next call; raises when the deadline (less a margin) is here.

        The call gets all of it: when the caller's deadline passes first, gRPC cancels the
        call, which is not the provider's failure (the breaker does not count it).
        """
        if deadline is None:
            return None
        remaining = deadline - self._clock()
        if remaining <= DEADLINE_MARGIN_S:
            raise DeadlineExceeded("deadline reached before the next LLM or tool call could start")
        return remaining

    def _final(self, answer: str, prompt: Prompt, tally: _Tally) -> AgentAnswer:
        cited = cited_indexes(answer, len(prompt.passages)) or [1]
        passages = [prompt.passages[i - 1] for i in cited]
        return AgentAnswer(
            agent=self.config.name,
            text=renumber_markers(answer, cited).strip(),
            outcome=Outcome.ANSWERED,
            mode=AnswerMode.LLM,
            confidence=_confidence(max(p.score for p in passages), self.config.retrieval.min_score),
            citations=[_citation(p) for p in passages],
            usage=tally.report(self.config.name),
        )

    def _needs_confirmation(
        self, pending: PendingAction, hits: list[Hit], tally: _Tally
    ) -> AgentAnswer:
        return AgentAnswer(
            agent=self.config.name,
            text=f"{pending.summary}. Nothing has been changed yet: please confirm to go ahead.",
            outcome=Outcome.NEEDS_CONFIRMATION,
            mode=AnswerMode.LLM,
            confidence=_confidence(_top(hits), self.config.retrieval.min_score),
            usage=tally.report(self.config.name),
            pending_action=pending,
        )

    # -- confirmations and the offline path -------------------------------------------------

    async def _confirm(self, request: AgentRequest, deadline: float | None) -> AgentAnswer:
        if self._tools is None:
            raise InvalidRequest(f"agent {self.config.name!r} has no tools to confirm")
        return await self._tools.confirm(
            request.confirm_action,
            self._context(request, 0),
            timeout=self._time_left(deadline),
        )

    def _context(self, request: AgentRequest, step: int) -> ToolContext:
        return ToolContext(
            request_id=request.request_id,
            tenant=request.metadata.get(TENANT_KEY, ""),
            customer_id=request.metadata.get(CUSTOMER_KEY, ""),
            agent=self.config.name,
            step=step,
        )

    async def _answer_offline(
        self, text: str, query: Vector, hits: list[Hit], tally: _Tally
    ) -> AgentAnswer:
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
            text=renumber_markers(answer, used),
            outcome=Outcome.DEGRADED,
            mode=AnswerMode.OFFLINE,
            confidence=_confidence(max(p.score for p in passages), self.config.retrieval.min_score),
            citations=[_citation(p) for p in passages],
            usage=tally.report(self.config.name),
        )


def _top(hits: list[Hit]) -> float:
    return max((h.score for h in hits), default=0.0)
