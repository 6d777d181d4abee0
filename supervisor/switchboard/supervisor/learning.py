"""Learning from traffic: record requests that could become routing examples.

Only decisions someone confirmed are candidates: Claude chose the agent (``source="llm"``,
pending review), or the request needed clarification or was escalated by its agent (kept
``unresolved`` until a person names the right agent with ``switchboard examples confirm``).
Nothing here changes routing: a person accepts candidates and ``switchboard examples apply``
writes them into the agents' configs.

The request text is stored for these candidates only; ``record_example_candidates=false``
turns recording off, and ``db purge`` removes old candidates.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from switchboard.core.types import Outcome
from switchboard.store.errors import StoreError
from switchboard.store.examples import CandidateSource
from switchboard.supervisor.routing.router import Method, RouteResult
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)

# Requests routed this way are no candidates: the caller or the session chose, or the text
# was refused or split.
_NOT_LEARNED = {Method.EXPLICIT, Method.SESSION, Method.BLOCKED, Method.COMPOUND}


class CandidateStore(Protocol):
    """Where candidates are kept (``store.ExampleCandidates``)."""

    async def propose(
        self,
        request_id: str,
        text: str,
        *,
        tenant: str = "",
        agent: str | None = None,
        source: CandidateSource | None = None,
        outcome: str,
    ) -> bool: ...


def candidate_for(
    decision: RouteResult, outcome: Outcome, answered_by: str
) -> tuple[str | None, str] | None:
    """(proposed agent or None for a person to resolve, what happened), or None: no candidate."""
    if decision.method in _NOT_LEARNED:
        return None
    if outcome == Outcome.NEEDS_CLARIFICATION:
        return None, decision.method  # clarify or out_of_scope
    if outcome == Outcome.ESCALATED:
        # The agent found nothing relevant: maybe the wrong agent. (An agent that was down
        # says nothing about routing.)
        return (None, "escalated") if answered_by else None
    if decision.method == Method.LLM and decision.agent and outcome != Outcome.REFUSED:
        return decision.agent, Method.LLM
    return None


@dataclass(frozen=True)
class _Proposal:
    request_id: str
    tenant: str
    text: str
    agent: str | None
    outcome: str


class ExampleRecorder:
    """Proposes candidates off the request path: :meth:`observe` queues, a background task
    writes. Best effort: when the queue is full or the store fails, the candidate is dropped
    and logged. :meth:`close` writes what is queued, then stops."""

    def __init__(
        self, store: CandidateStore, *, timeout_s: float = 0.5, max_queue: int = 1000
    ) -> None:
        self._store = store
        self._timeout = timeout_s
        self._queue: asyncio.Queue[_Proposal | None] = asyncio.Queue(max_queue + 1)
        self._max_queue = max_queue
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.recorded = 0
        self.dropped = 0

    def observe(
        self,
        *,
        request_id: str,
        tenant: str,
        text: str,
        decision: RouteResult,
        outcome: Outcome,
        answered_by: str,
    ) -> bool:
        """Queues the request when it is a candidate; True when queued."""
        found = candidate_for(decision, outcome, answered_by)
        if found is None:
            return False
        if self._closing or self._queue.qsize() >= self._max_queue:
            self.dropped += 1
            log.warning("example candidate dropped: queue full or closing")
            return False
        if self._task is None:  # started by the first candidate, on the serving loop
            self._task = asyncio.create_task(self._run(), name="example-recorder")
        agent, what = found
        self._queue.put_nowait(_Proposal(request_id, tenant, text, agent, what))
        return True

    async def _run(self) -> None:
        while (proposal := await self._queue.get()) is not None:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._store.propose(
                        proposal.request_id,
                        proposal.text,
                        tenant=proposal.tenant,
                        agent=proposal.agent,
                        source=CandidateSource.LLM if proposal.agent else None,
                        outcome=proposal.outcome,
                    )
                self.recorded += 1
            except (StoreError, TimeoutError) as exc:
                self.dropped += 1
                log.warning("example candidate not recorded", extra={"error": str(exc)})
            finally:
                self._queue.task_done()
        self._queue.task_done()

    async def flush(self) -> None:
        """Waits until everything queued so far is written (or dropped)."""
        if self._task is not None:
            await self._queue.join()

    async def close(self) -> None:
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        task, self._task = self._task, None
        await task


def example_recorder(store: CandidateStore, settings: SupervisorSettings) -> ExampleRecorder | None:
    """The recorder the settings ask for (None: recording switched off)."""
    if not settings.record_example_candidates:
        return None
    return ExampleRecorder(store, timeout_s=settings.state_timeout_s)
