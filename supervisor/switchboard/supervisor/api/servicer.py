"""gRPC face of the supervisor: proto in, domain call, proto out."""

from __future__ import annotations

from typing import Any

import grpc

from switchboard.core.auth import current_principal
from switchboard.core.budget import Budget
from switchboard.core.grpc_errors import grpc_method
from switchboard.core.telemetry import current_trace_id
from switchboard.core.textcheck import MetadataLimits, validate_metadata, validate_request_id
from switchboard.core.types import AnswerPart
from switchboard.core.wire import (
    card_to_proto,
    citation_to_proto,
    pending_to_proto,
    status_to_proto,
    usage_to_proto,
)
from switchboard.supervisor.ledger import RequestLedger, fingerprint
from switchboard.supervisor.routing.router import RouteResult
from switchboard.supervisor.service import AskInput, SupervisorService
from switchboard.v1 import common_pb2, supervisor_pb2

Context = grpc.aio.ServicerContext[Any, Any]


def decision_to_proto(d: RouteResult) -> supervisor_pb2.RouteDecision:
    return supervisor_pb2.RouteDecision(
        agent=d.agent or "",
        confidence=d.confidence,
        method=d.method,
        candidates=[
            supervisor_pb2.RouteCandidate(agent=c.agent, score=c.score) for c in d.candidates
        ],
        reason=d.reason,
        blocked=d.blocked,
        block_reason=d.block_reason,
        parts=[
            supervisor_pb2.SubRoute(text=p.text, agent=p.agent, confidence=p.confidence)
            for p in d.parts
        ],
    )


def part_to_proto(p: AnswerPart) -> supervisor_pb2.AnswerPart:
    return supervisor_pb2.AnswerPart(
        text=p.text,
        agent=p.agent,
        answer=p.answer,
        status=status_to_proto(p.outcome),
        citations=[citation_to_proto(c) for c in p.citations],
        confidence=p.confidence,
        mode=p.mode.value,
    )


class SupervisorServicer:
    def __init__(
        self,
        service: SupervisorService,
        ledger: RequestLedger | None = None,
        *,
        metadata_limits: MetadataLimits | None = None,
    ) -> None:
        self._service = service
        self._ledger = ledger
        self._limits = metadata_limits or MetadataLimits()

    @grpc_method
    async def Ask(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.AskRequest, context: Context
    ) -> supervisor_pb2.AskResponse:
        principal = current_principal()
        metadata = validate_metadata(request.metadata, self._limits)
        if principal is not None and principal.tenant is not None:
            metadata["tenant"] = principal.tenant  # who authenticated, not who it claims to be
        ask = AskInput(
            text=request.text,
            request_id=request.request_id,
            session_id=request.session_id,
            metadata=metadata,
            agent=request.agent,
            confirm_action=request.confirm_action,
            budget=Budget.from_metadata(tuple(context.invocation_metadata() or ())),
            principal=principal,
        )
        timeout = context.time_remaining()
        if self._ledger is None or not request.request_id:
            return await self._answer(ask, timeout)

        async def produce() -> tuple[bytes, str]:
            reply = await self._answer(ask, timeout)
            return reply.SerializeToString(), common_pb2.Status.Name(reply.status)

        data, replayed = await self._ledger.run(
            ask.metadata.get("tenant", ""),
            validate_request_id(request.request_id),
            fingerprint(
                text=ask.text,
                session_id=ask.session_id,
                agent=ask.agent,
                confirm_action=ask.confirm_action,
                metadata=ask.metadata,
            ),
            produce,
            timeout=timeout,
        )
        reply = supervisor_pb2.AskResponse.FromString(data)
        if replayed:
            self._service.record_replay(reply.request_id, ask.metadata.get("tenant", ""))
        return reply

    async def _answer(self, ask: AskInput, timeout: float | None) -> supervisor_pb2.AskResponse:
        result = await self._service.ask(ask, timeout=timeout)
        return supervisor_pb2.AskResponse(
            request_id=result.request_id,
            answer=result.answer,
            agent=result.agent,
            citations=[citation_to_proto(c) for c in result.citations],
            confidence=result.confidence,
            usage=usage_to_proto(result.usage),
            trace_id=current_trace_id(),
            status=status_to_proto(result.outcome),
            candidates=decision_to_proto(result.route).candidates,
            mode=result.mode.value,
            route=decision_to_proto(result.route),
            pending_action=pending_to_proto(result.pending_action),
            parts=[part_to_proto(p) for p in result.parts],
        )

    @grpc_method
    async def Route(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.RouteRequest, context: Context
    ) -> supervisor_pb2.RouteDecision:
        return decision_to_proto(
            await self._service.route(request.text, timeout=context.time_remaining())
        )

    @grpc_method
    async def ListAgents(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.ListAgentsRequest, context: Context
    ) -> supervisor_pb2.ListAgentsResponse:
        return supervisor_pb2.ListAgentsResponse(
            agents=[
                supervisor_pb2.AgentInfo(
                    card=card_to_proto(a.card) if a.card else None,
                    address=a.entry.address,
                    card_source=a.card_source,
                )
                for a in self._service.agents()
            ]
        )
