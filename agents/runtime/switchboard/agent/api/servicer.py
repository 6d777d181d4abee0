"""gRPC face of an agent: proto in, one domain call, proto out. No domain logic here."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc

from switchboard.agent.answering.streaming import AnswerStream
from switchboard.agent.runtime import AgentRuntime
from switchboard.core.auth import current_principal
from switchboard.core.budget import Budget
from switchboard.core.context import Deadline, RequestContext
from switchboard.core.grpc_errors import grpc_method
from switchboard.core.stream_metrics import StreamMetrics
from switchboard.core.stream_wire import final_event_to_proto, invoke_event_to_proto
from switchboard.core.streaming import AnswerEvent, TextDelta
from switchboard.core.types import AgentCard
from switchboard.core.wire import answer_to_proto, card_to_proto, invoke_request_from_proto
from switchboard.v1 import agent_pb2, common_pb2

Context = grpc.aio.ServicerContext[Any, Any]
log = logging.getLogger(__name__)


class AgentServicer:
    def __init__(
        self,
        runtime: AgentRuntime,
        card: AgentCard,
        *,
        stream_metrics: StreamMetrics | None = None,
        hold_sentences: bool = False,
    ) -> None:
        """``hold_sentences``: streamed text waits for its sentence's output screening
        (``SWITCHBOARD_STREAM_SCREEN=sentence``)."""
        self._runtime = runtime
        self._card = card
        self._stream_metrics = stream_metrics or StreamMetrics("agent")
        self._hold = hold_sentences

    def _context(self, request: agent_pb2.InvokeRequest, context: Context) -> RequestContext:
        return RequestContext(
            request_id=request.request_id[:128],
            tenant=request.tenant,
            principal=current_principal(),
            session_id=request.session_id,
            budget=Budget.from_metadata(tuple(context.invocation_metadata() or ())) or Budget(),
            deadline=Deadline.after(context.time_remaining()),
            customer_id=request.customer_id,
            user_id=request.user_id,
        )

    @grpc_method
    async def Invoke(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.InvokeRequest, context: Context
    ) -> agent_pb2.InvokeResponse:
        ctx = self._context(request, context)
        answer = await self._runtime.answer(ctx, invoke_request_from_proto(request))
        log.info(
            "invoke answered",
            extra={
                "request_id": ctx.request_id,
                "status": answer.outcome.value,
                "mode": answer.mode.value,
            },
        )
        return answer_to_proto(answer)

    @grpc_method
    async def InvokeStream(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.InvokeRequest, context: Context
    ) -> None:
        """Invoke, streamed: the runtime's events are written as they come (no queue), the
        final answer last."""
        ctx = self._context(request, context)
        clock = self._stream_metrics.clock()
        sequence = 0

        async def write(event: AnswerEvent) -> None:
            nonlocal sequence
            sequence += 1
            if isinstance(event, TextDelta):
                clock.text()
            await context.write(invoke_event_to_proto(sequence, event))

        stream = AnswerStream(write, hold_sentences=self._hold)
        try:
            answer = await self._runtime.answer(ctx, invoke_request_from_proto(request), stream)
        except asyncio.CancelledError:
            clock.cancelled()  # the supervisor went away: the LLM stream was closed with it
            raise
        await stream.finish(answer)
        clock.done(answer.usage.output_tokens)
        await context.write(final_event_to_proto(sequence + 1, answer))
        log.info(
            "invoke streamed",
            extra={
                "request_id": ctx.request_id,
                "status": answer.outcome.value,
                "mode": answer.mode.value,
                "events": sequence + 1,
            },
        )

    @grpc_method
    async def Describe(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.DescribeRequest, context: Context
    ) -> common_pb2.AgentCard:
        return card_to_proto(self._card)
