"""The audit trail of one request, bound to its context (request id and tenant said once)."""

from __future__ import annotations

import time
from typing import Any

from switchboard.core import errors
from switchboard.core.audit import AuditKind, AuditSink, event
from switchboard.core.auth import AccessDenied
from switchboard.core.context import RequestContext
from switchboard.core.types import AgentAnswer
from switchboard.supervisor.routing.router import RouteResult
from switchboard.supervisor.screening import Screening


class RequestAudit:
    """Records what happened to one request; never blocks, never raises."""

    def __init__(self, sink: AuditSink, ctx: RequestContext, *, keep_text: bool = False) -> None:
        self._sink = sink
        self._ctx = ctx
        self._keep_text = keep_text  # request text in audit rows only when configured
        # The route, once decided: error metrics and logs name the agent and method.
        self.agent = ""
        self.method = ""

    def record(
        self,
        kind: AuditKind,
        *,
        agent: str = "",
        outcome: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        self._sink.submit(
            event(
                kind,
                request_id=self._ctx.request_id,
                tenant=self._ctx.tenant,
                agent=agent,
                outcome=outcome,
                detail=detail,
            )
        )

    def route_decision(self, decision: RouteResult) -> None:
        self.agent = decision.agent or ",".join(p.agent for p in decision.parts)
        self.method = decision.method
        self.record(
            AuditKind.ROUTE_DECISION,
            agent=decision.agent or "",
            outcome=decision.method,
            detail={
                "confidence": round(decision.confidence, 4),
                "candidates": {c.agent: c.score for c in decision.candidates},
                "reason": decision.reason,
                "parts": [
                    [p.agent, p.text] if self._keep_text else [p.agent, len(p.text)]
                    for p in decision.parts
                ],
            },
        )

    def agent_answered(
        self, answer: AgentAnswer, started: float, *, part: str | None = None
    ) -> None:
        """One answered agent call (``part``: its piece of a compound request)."""
        detail: dict[str, Any] = {} if part is None else {"part": self._text(part)}
        detail.update(
            mode=answer.mode.value,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            input_tokens=answer.usage.input_tokens,
            output_tokens=answer.usage.output_tokens,
            cost_usd=answer.usage.cost_usd,
            citations=[c.source_id for c in answer.citations],
        )
        if answer.prompt_version:
            detail["prompt_version"] = answer.prompt_version
        self.record(
            AuditKind.AGENT_CALL, agent=answer.agent, outcome=answer.outcome.value, detail=detail
        )

    def agent_failed(
        self, agent: str, exc: errors.SwitchboardError, *, part: str | None = None
    ) -> None:
        detail: dict[str, Any] = {"error": exc.message[:500]}
        if part is not None:
            detail["part"] = self._text(part)
        self.record(AuditKind.AGENT_CALL, agent=agent, outcome=type(exc).__name__, detail=detail)

    def escalation(self, agent: str, why: str, **detail: Any) -> None:
        self.record(AuditKind.ESCALATION, agent=agent, outcome=why, detail=detail)

    def refusal(self, screening: Screening) -> None:
        self.record(
            AuditKind.REFUSAL,
            outcome="blocked",
            detail={"source": "user", "reason": screening.reason, "score": screening.score},
        )

    def clarification(self, method: str) -> None:
        self.record(AuditKind.CLARIFICATION, outcome=method)

    def error(self, exc: errors.SwitchboardError) -> None:
        """A request that ended in an error; a refused permission is an ``auth_failure``."""
        if isinstance(exc, AccessDenied):
            self.denied(exc, customer_id=self._ctx.customer_id)
            return
        self.record(
            AuditKind.ERROR, outcome=type(exc).__name__, detail={"message": exc.message[:500]}
        )

    def denied(self, exc: errors.PermissionDenied, **detail: Any) -> None:
        """A refusal of what the caller asked for (a customer not its own, an agent outside
        its allow-list): an ``auth_failure`` row with the reason code."""
        self.record(
            AuditKind.AUTH_FAILURE,
            outcome="permission_denied",
            detail={"reason": getattr(exc, "reason", "permission_denied"), **detail},
        )

    def replay(self) -> None:
        self.record(AuditKind.REPLAY, outcome="replayed")

    def _text(self, text: str) -> str | int:
        return text if self._keep_text else len(text)
