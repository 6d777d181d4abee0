"""gRPC face of the supervisor: proto in, domain call, proto out."""

from __future__ import annotations

from typing import Any

import grpc

from switchboard.core.grpc_errors import grpc_method
from switchboard.core.telemetry import current_trace_id
from switchboard.core.wire import card_to_proto, citation_to_proto, status_to_proto, usage_to_proto
from switchboard.supervisor.router import RouteResult
from switchboard.supervisor.service import AskInput, SupervisorService
from switchboard.v1 import supervisor_pb2

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
    )


class SupervisorServicer:
    def __init__(self, service: SupervisorService) -> None:
        self._service = service

    @grpc_method
    async def Ask(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.AskRequest, context: Context
    ) -> supervisor_pb2.AskResponse:
        result = await self._service.ask(
            AskInput(
                text=request.text,
                request_id=request.request_id,
                session_id=request.session_id,
                metadata=dict(request.metadata),
                agent=request.agent,
            ),
            timeout=context.time_remaining(),
        )
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
