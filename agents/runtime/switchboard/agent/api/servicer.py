"""gRPC face of an agent: proto in, domain call, proto out. No domain logic here."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from switchboard.agent.runtime import AgentRuntime
from switchboard.core.budget import Budget
from switchboard.core.grpc_errors import grpc_method
from switchboard.core.types import AgentCard, AgentRequest
from switchboard.core.wire import (
    card_to_proto,
    citation_to_proto,
    pending_to_proto,
    status_to_proto,
    usage_to_proto,
)
from switchboard.v1 import agent_pb2, common_pb2

Context = grpc.aio.ServicerContext[Any, Any]
log = logging.getLogger(__name__)


class AgentServicer:
    def __init__(self, runtime: AgentRuntime, card: AgentCard) -> None:
        self._runtime = runtime
        self._card = card

    @grpc_method
    async def Invoke(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.InvokeRequest, context: Context
    ) -> agent_pb2.InvokeResponse:
        remaining = context.time_remaining()
        loop_now = _now()
        answer = await self._runtime.answer(
            AgentRequest(
                request_id=request.request_id,
                session_id=request.session_id,
                text=request.text,
                metadata=dict(request.metadata),
                query_embedding=list(request.query_embedding) or None,
                confirm_action=request.confirm_action,
                budget=Budget.from_metadata(tuple(context.invocation_metadata() or ())) or Budget(),
            ),
            deadline=None if remaining is None else loop_now + remaining,
        )
        log.info(
            "invoke answered",
            extra={
                "request_id": request.request_id,
                "status": answer.outcome.value,
                "mode": answer.mode.value,
            },
        )
        return agent_pb2.InvokeResponse(
            answer=answer.text,
            citations=[citation_to_proto(c) for c in answer.citations],
            confidence=answer.confidence,
            usage=usage_to_proto(answer.usage),
            status=status_to_proto(answer.outcome),
            mode=answer.mode.value,
            agent=answer.agent,
            pending_action=pending_to_proto(answer.pending_action),
        )

    @grpc_method
    async def Describe(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.DescribeRequest, context: Context
    ) -> common_pb2.AgentCard:
        return card_to_proto(self._card)


def _now() -> float:
    import asyncio

    return asyncio.get_running_loop().time()
