"""Session stickiness: a follow-up turn stays with the conversation's agent.

"And how long does that take?" routes poorly on its own. Within a session, the turn is read
in the context of the previous one (its embedding blended with the previous turn's,
``context_weight``) and stays with the previous agent unless another agent is confident in
that context (``switch_confidence``), or the turn names another agent's keyword. Both values
were fitted on ``tests/data/sessions.yaml`` with ``switchboard eval sessions``, which reports
per-turn accuracy with and without stickiness.

The state (agent and last query embedding, no text) is kept in the durable store so every
supervisor replica sees it; when the store fails, routing carries on without it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from switchboard.core.embeddings import Vector
from switchboard.core.telemetry import tracer
from switchboard.store.errors import StoreError
from switchboard.store.sessions import SessionState
from switchboard.supervisor.routing.router import Candidate, Method, Router, RouteResult
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)

# Fitted on tests/data/sessions.yaml (`switchboard eval sessions`); SupervisorSettings
# carries them as session_switch_confidence / session_context_weight.
DEFAULT_SWITCH_CONFIDENCE = 0.85
DEFAULT_CONTEXT_WEIGHT = 0.5


class SessionStore(Protocol):
    """Where session state lives (``store.SessionStates``)."""

    async def get(self, tenant: str, session_id: str) -> SessionState | None: ...

    async def save(
        self,
        tenant: str,
        session_id: str,
        agent: str,
        last_vector: bytes | None,
        *,
        ttl_s: float,
    ) -> None: ...


@dataclass(frozen=True)
class Conversation:
    """What a session remembers: the agent of its last answered turn and that turn's query."""

    agent: str
    last_vector: Vector | None
    turns: int


@dataclass(frozen=True)
class StickyRule:
    switch_confidence: float = DEFAULT_SWITCH_CONFIDENCE
    context_weight: float = DEFAULT_CONTEXT_WEIGHT

    def in_context(self, query: Vector, previous: Vector | None) -> Vector:
        """The turn read with the previous one: ``query + w * previous``, unit length."""
        if previous is None or previous.shape != query.shape or self.context_weight <= 0:
            return query
        blended = query.astype(np.float32) + np.float32(self.context_weight) * previous
        norm = float(np.linalg.norm(blended))
        return query if norm == 0 else (blended / norm).astype(np.float32)

    def decide(
        self, previous: str, confidences: Mapping[str, float], keyword_agents: Sequence[str]
    ) -> tuple[bool, str]:
        """(stay with ``previous``?, why). ``confidences`` are calibrated, in context."""
        if previous not in confidences:
            return False, f"the session's agent {previous} is no longer known"
        if len(keyword_agents) == 1 and keyword_agents[0] != previous:
            return False, f"the turn names one of {keyword_agents[0]}'s keywords"
        best = max(confidences, key=lambda a: confidences[a])
        p_best = confidences[best]
        if best != previous and p_best >= self.switch_confidence:
            return False, (
                f"the topic moved from {previous} to {best} "
                f"({p_best:.2f} >= {self.switch_confidence:.2f} in context)"
            )
        if best == previous:
            return True, (
                f"follow-up stays with {previous}: it fits the conversation "
                f"({p_best:.2f} in context)"
            )
        return True, (
            f"follow-up stays with {previous}: no other agent is confident in context "
            f"({best} {p_best:.2f} < {self.switch_confidence:.2f})"
        )


class SessionMemory:
    """Loads and saves session state, and routes a turn of a known session."""

    def __init__(
        self,
        store: SessionStore,
        *,
        rule: StickyRule | None = None,
        ttl_s: float = 1800.0,
        timeout_s: float = 0.5,
    ) -> None:
        self._store = store
        self.rule = rule or StickyRule()
        self._ttl = ttl_s
        self._timeout = timeout_s

    async def load(self, tenant: str, session_id: str) -> Conversation | None:
        """The session's state; None when new, expired, or the store is unavailable."""
        if not session_id:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                state = await self._store.get(tenant, session_id)
        except (StoreError, TimeoutError) as exc:
            log.warning("session state unavailable; routing without it", extra={"error": str(exc)})
            return None
        if state is None:
            return None
        return Conversation(state.agent, _vector(state.last_vector), state.turns)

    async def remember(
        self, tenant: str, session_id: str, agent: str, query: Vector | None
    ) -> None:
        """Records the agent that answered this turn (best effort: failures are logged)."""
        if not session_id or not agent:
            return
        blob = None if query is None else np.asarray(query, dtype=np.float32).tobytes()
        try:
            async with asyncio.timeout(self._timeout):
                await self._store.save(tenant, session_id, agent, blob, ttl_s=self._ttl)
        except (StoreError, TimeoutError) as exc:
            log.warning("session state not saved", extra={"error": str(exc)})

    async def route(
        self,
        router: Router,
        text: str,
        query: Vector,
        conversation: Conversation,
        *,
        timeout: float | None = None,
    ) -> RouteResult:
        """Stays with the conversation's agent, or routes the turn afresh when it moved on."""
        with tracer().start_as_current_span("session_stickiness") as span:
            context = self.rule.in_context(query, conversation.last_vector)
            confidences, keywords = router.assess(text, context)
            stay, why = self.rule.decide(conversation.agent, confidences, keywords)
            span.set_attributes(
                {
                    "switchboard.session.agent": conversation.agent,
                    "switchboard.session.turns": conversation.turns,
                    "switchboard.session.stay": stay,
                }
            )
        if stay:
            ranked = sorted(confidences.items(), key=lambda kv: kv[1], reverse=True)
            # The agent retrieves with the turn read in context: "how long does that take?"
            # then finds the refund timings, not whatever "how long" matches on its own.
            return RouteResult(
                conversation.agent,
                confidences[conversation.agent],
                Method.SESSION,
                [Candidate(a, round(p, 4)) for a, p in ranked],
                why,
                context,
            )
        decision = await router.route(text, timeout=timeout, query=query)
        decision.reason = f"{why}; {decision.reason}"
        return decision


def session_memory(store: SessionStore, settings: SupervisorSettings) -> SessionMemory | None:
    """The session memory the settings ask for (None: stickiness switched off)."""
    if not settings.session_stickiness:
        return None
    return SessionMemory(
        store,
        rule=StickyRule(settings.session_switch_confidence, settings.session_context_weight),
        ttl_s=settings.session_ttl_s,
        timeout_s=settings.state_timeout_s,
    )


def _vector(blob: bytes | None) -> Vector | None:
    if not blob or len(blob) % 4:
        return None
    return np.frombuffer(blob, dtype=np.float32).copy()
