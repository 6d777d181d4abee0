"""Conversation memory: every answered turn of a session is stored, and the next turn's
agent is shown the conversation so far (docs/memory.md).

``recall`` reads the session's stored state once per request (bounded by
``memory.timeout_s`` and the request's deadline) and says what it found: a continued
conversation, a new one, one that expired (a fresh conversation, stated in the response), or
none because the store did not answer in time. ``record`` folds the turn that leaves the
verbatim window into the running summary and stores the answered turn **after the answer has
gone out** (``write_behind``: one chain per session, so turns land in order): a later
``recall`` of the same session waits for it, erasure and listing wait for every pending
write first (``flush``), and ``close`` drains them at shutdown. Neither ever
fails the request: a store failure is logged and counted (``switchboard.memory.failures``)
and the answer goes out without the memory.

A turn answered on another replica while its session is being erased can land after the
erasure, write-behind or not: the answering request was in flight when the erasure ran.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Protocol

from opentelemetry import metrics

from switchboard.core.context import RequestContext
from switchboard.core.conversation import (
    ConversationState,
    ConversationStatus,
    ConversationTurn,
    ConversationWindow,
    HandoffBrief,
)
from switchboard.core.embeddings import Vector
from switchboard.core.errors import PermissionDenied
from switchboard.core.pricing import ModelPrice, estimate_cost
from switchboard.core.settings import MemorySettings
from switchboard.core.telemetry import tracer
from switchboard.core.types import AgentUsage, Outcome, UsageReport
from switchboard.store.conversations import StoredConversation, StoredTurn
from switchboard.store.errors import StoreError
from switchboard.supervisor.memory.handoff import handoff_brief
from switchboard.supervisor.memory.longterm import LongTermMemory
from switchboard.supervisor.memory.summary import Summarizer
from switchboard.supervisor.memory.write_behind import Key, WriteBehind
from switchboard.supervisor.results import AskResult

log = logging.getLogger(__name__)

#: Answers shown verbatim in the window are cut to this (the agent fits the rest).
WINDOW_ANSWER_CHARS = 700


class ConversationStore(Protocol):
    """Where turns live (``store.Conversations``)."""

    async def load(
        self, tenant: str, session_id: str, *, recent: int
    ) -> StoredConversation | None: ...

    async def append(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        turn: StoredTurn,
        *,
        summary: str,
        summarized: int,
        ttl_s: float,
        max_turns: int,
    ) -> int: ...


@dataclass(frozen=True)
class Recall:
    """What a request knows of its conversation."""

    state: ConversationState
    stored: StoredConversation | None = None  # live conversations only
    memories: tuple[str, ...] = ()  # the end user's long-term facts relevant to this turn

    def window_for(self, agent: str) -> tuple[ConversationWindow | None, HandoffBrief | None]:
        """The window for ``agent``, or a handoff brief when the session moves to it."""
        s = self.stored
        if s is None or (not s.recent and not s.summary):
            return None, None
        brief = handoff_brief(s, agent)
        if brief is not None:
            return None, brief
        turns = [
            ConversationTurn(
                user=t.user_text,
                answer=t.answer[:WINDOW_ANSWER_CHARS],
                agent=t.agent,
                sources=t.sources,
            )
            for t in s.recent
        ]
        return ConversationWindow(summary=s.summary, turns=turns, turns_total=s.turns), None


NO_SESSION = Recall(ConversationState(status=ConversationStatus.OFF, note="no session_id"))


class ConversationMemory:
    def __init__(
        self,
        store: ConversationStore,
        settings: MemorySettings,
        summarizer: Summarizer,
        *,
        prices: dict[str, ModelPrice] | None = None,
        meter: metrics.Meter | None = None,
        longterm: LongTermMemory | None = None,
    ) -> None:
        self._store = store
        self._longterm = longterm
        self._s = settings
        self._summarizer = summarizer
        self._prices = prices or {}
        meter = meter or metrics.get_meter("switchboard.supervisor")
        self._failures = meter.create_counter(
            "switchboard.memory.failures",
            unit="{operation}",
            description="Conversation reads and writes that failed or timed out (the answer "
            "went out without them), by operation.",
        )
        self.failures = 0  # tests and the bench read it
        self.write_ms: deque[float] = deque(maxlen=4096)  # the off-path writes (the bench)
        self._after = WriteBehind()

    def _timeout(self, ctx: RequestContext) -> float:
        left = ctx.deadline.remaining()
        return self._s.timeout_s if left is None else max(0.0, min(self._s.timeout_s, left))

    def use_longterm(self, longterm: LongTermMemory) -> None:
        self._longterm = longterm

    def failed(self, op: str, exc: BaseException) -> None:
        """Counts and logs a failed memory operation (the request goes on without it)."""
        self._failed(op, exc)

    def _failed(self, op: str, exc: BaseException) -> None:
        self.failures += 1
        self._failures.add(1, {"operation": op, "error.type": type(exc).__name__})
        log.warning(
            f"conversation {op} failed ({type(exc).__name__}); answering without memory",
            extra={"error": str(exc)},
        )

    async def recall(self, ctx: RequestContext, query: Vector | None = None) -> Recall:
        """The session's conversation and the user's relevant long-term facts; never raises
        for the store (PERMISSION_DENIED when the session belongs to another end user)."""
        found = await self._recall(ctx)
        if self._longterm is None or not ctx.user_id:
            return found
        await self._after.settle(_facts_key(ctx), self._timeout(ctx))  # the last turn's facts
        facts = await self._longterm.recall(ctx, query)
        return replace(found, memories=tuple(facts)) if facts else found

    async def _recall(self, ctx: RequestContext) -> Recall:
        if not ctx.session_id:
            return NO_SESSION
        await self._after.settle((ctx.tenant, ctx.session_id), self._timeout(ctx))
        with tracer().start_as_current_span("memory.recall") as span:
            try:
                async with asyncio.timeout(self._timeout(ctx)):
                    stored = await self._store.load(
                        ctx.tenant, ctx.session_id, recent=self._s.recent_turns
                    )
            except (StoreError, TimeoutError) as exc:
                self._failed("read", exc)
                return Recall(
                    ConversationState(
                        status=ConversationStatus.UNAVAILABLE,
                        note="conversation memory did not answer in time: answered without "
                        "the earlier turns",
                    )
                )
            if stored is not None and stored.user_id and ctx.user_id != stored.user_id:
                raise PermissionDenied(
                    "session_id belongs to another user_id of this tenant; start a new session"
                )
            span.set_attribute("switchboard.memory.turns", 0 if stored is None else stored.turns)
        if stored is None:
            return Recall(
                ConversationState(status=ConversationStatus.NEW, note="a new conversation")
            )
        if not stored.live:
            return Recall(
                ConversationState(
                    status=ConversationStatus.EXPIRED,
                    note="fresh conversation: the session expired after "
                    f"{int(self._s.session_ttl_s)} s idle; earlier turns were not used",
                )
            )
        return Recall(
            ConversationState(
                status=ConversationStatus.CONTINUED,
                turns=stored.turns,
                note=f"continued: {stored.turns} earlier turn(s) available to the agent",
            ),
            stored,
        )

    async def flush(self) -> None:
        """Waits until every turn handed over so far is written (or has failed)."""
        await self._after.flush()

    async def close(self) -> None:
        """Drains the pending writes (the servers have stopped taking requests by now)."""
        await self.flush()

    async def _write(
        self, key: Key, user_id: str, turn: StoredTurn, summary: str, summarized: int
    ) -> None:
        """Stores one turn (after the session's previous one: ``WriteBehind``); a store
        failure is counted here, anything else by the chain's ``on_crash``."""
        started = time.perf_counter()
        with tracer().start_as_current_span("memory.write") as span:
            try:
                async with asyncio.timeout(self._s.timeout_s):
                    seq = await self._store.append(
                        key[0],
                        key[1],
                        user_id,
                        turn,
                        summary=summary,
                        summarized=summarized,
                        ttl_s=self._s.session_ttl_s,
                        max_turns=self._s.max_turns,
                    )
                span.set_attribute("switchboard.memory.turn", seq)
            except (StoreError, TimeoutError) as exc:
                self._failed("write", exc)
        self.write_ms.append((time.perf_counter() - started) * 1000)

    async def finish(
        self, ctx: RequestContext, recall: Recall, text: str, result: AskResult
    ) -> AskResult:
        """``result``, saying what became of the session and counting what the summary cost;
        the turn and the user's facts are stored after the answer has gone out."""
        if self._longterm is not None and result.outcome != Outcome.REFUSED and ctx.user_id:
            longterm = self._longterm
            self._after.submit(
                _facts_key(ctx),
                lambda: longterm.observe(ctx, text, result.request_id),
                on_crash=lambda exc: self._failed("remember", exc),
            )
        if not ctx.session_id:
            return result
        cost = await self.record(ctx, recall, text, result)
        return result.model_copy(
            update={"conversation": recall.state, "usage": result.usage.merged(cost)}
        )

    async def record(
        self, ctx: RequestContext, recall: Recall, text: str, result: AskResult
    ) -> UsageReport:
        """Stores the answered turn (best effort); returns what writing the summary cost."""
        if not ctx.session_id or result.outcome == Outcome.REFUSED:
            return UsageReport()
        if recall.state.status in (ConversationStatus.OFF, ConversationStatus.UNAVAILABLE):
            return UsageReport()
        stored = recall.stored
        summary, summarized, usage = "", 0, UsageReport()
        if stored is not None:
            summary, summarized = stored.summary, stored.summarized
            leaving = stored.recent[0] if len(stored.recent) >= self._s.recent_turns else None
            if leaving is not None and leaving.seq > summarized:
                left = ctx.deadline.remaining()
                limit = self._s.summary_timeout_s
                folded = await self._summarizer.fold(
                    summary,
                    leaving.user_text,
                    leaving.answer,
                    leaving.agent,
                    timeout=limit if left is None else max(0.0, min(limit, left)),
                )
                summary, summarized = folded.summary, leaving.seq
                if folded.usage is not None:
                    cost = estimate_cost(folded.model, folded.usage, self._prices)
                    usage = UsageReport(
                        breakdown=[
                            AgentUsage.from_tokens("memory", folded.model, folded.usage, cost)
                        ]
                    )
        cap = self._s.turn_max_chars
        turn = StoredTurn(
            seq=0,
            user_text=text[:cap],
            answer=result.answer[:cap],
            agent=result.agent,
            sources=[c.source_id for c in result.citations],
            status=result.outcome.value,
            pending_action=(
                result.pending_action.model_dump(mode="json") if result.pending_action else None
            ),
            request_id=result.request_id,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )
        key = (ctx.tenant, ctx.session_id)
        self._after.submit(
            key,
            lambda: self._write(key, ctx.user_id, turn, summary, summarized),
            on_crash=lambda exc: self._failed("write", exc),
        )
        return usage


def _facts_key(ctx: RequestContext) -> Key:
    """The chain of a user's long-term facts (apart from any session's turns)."""
    return (ctx.tenant, f"user:{ctx.user_id}")
