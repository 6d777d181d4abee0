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
from typing import Protocol

from switchboard.core.types import Outcome
from switchboard.store.errors import StoreError
from switchboard.store.examples import CandidateSource
from switchboard.supervisor.config import SupervisorSettings
from switchboard.supervisor.router import Method, RouteResult

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


class ExampleRecorder:
    """Proposes candidates after a request (best effort: store failures are logged)."""

    def __init__(self, store: CandidateStore, *, timeout_s: float = 0.5) -> None:
        self._store = store
        self._timeout = timeout_s

    async def observe(
        self,
        *,
        request_id: str,
        tenant: str,
        text: str,
        decision: RouteResult,
        outcome: Outcome,
        answered_by: str,
    ) -> bool:
        """Records the request when it is a candidate; True when a new one was stored."""
        found = candidate_for(decision, outcome, answered_by)
        if found is None:
            return False
        agent, what = found
        try:
            async with asyncio.timeout(self._timeout):
                return await self._store.propose(
                    request_id,
                    text,
                    tenant=tenant,
                    agent=agent,
                    source=CandidateSource.LLM if agent else None,
                    outcome=what,
                )
        except (StoreError, TimeoutError) as exc:
            log.warning("example candidate not recorded", extra={"error": str(exc)})
            return False


def example_recorder(store: CandidateStore, settings: SupervisorSettings) -> ExampleRecorder | None:
    """The recorder the settings ask for (None: recording switched off)."""
    if not settings.record_example_candidates:
        return None
    return ExampleRecorder(store, timeout_s=settings.state_timeout_s)
