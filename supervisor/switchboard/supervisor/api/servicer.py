"""gRPC face of the supervisor: proto in, one domain call, proto out. Nothing else here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import grpc

from switchboard.core import errors
from switchboard.core.auth import current_principal
from switchboard.core.budget import Budget
from switchboard.core.context import RequestContext
from switchboard.core.grpc_errors import grpc_method
from switchboard.core.stream_metrics import StreamMetrics
from switchboard.core.streaming import TextDelta
from switchboard.core.textcheck import MetadataLimits, validate_metadata
from switchboard.core.types import Outcome
from switchboard.core.wire import card_to_proto, status_to_proto
from switchboard.supervisor.api.convert import decision_to_proto, result_to_proto
from switchboard.supervisor.api.stream_convert import ask_event_to_proto
from switchboard.supervisor.results import AskInput
from switchboard.supervisor.review.callers import CallerResults, Rating
from switchboard.supervisor.service import SupervisorService
from switchboard.supervisor.streaming.asking import StreamingAsk
from switchboard.supervisor.streaming.events import Finished, Numbered, PartEvent
from switchboard.v1 import supervisor_pb2

Context = grpc.aio.ServicerContext[Any, Any]


class SupervisorServicer:
    def __init__(
        self,
        service: SupervisorService,
        *,
        results: CallerResults | None = None,
        metadata_limits: MetadataLimits | None = None,
        streams: StreamingAsk | None = None,
        stream_metrics: StreamMetrics | None = None,
    ) -> None:
        self._service = service
        self._results = results
        self._limits = metadata_limits or MetadataLimits()
        self._streams = streams
        self._stream_metrics = stream_metrics or StreamMetrics("supervisor")

    @grpc_method
    async def Ask(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.AskRequest, context: Context
    ) -> supervisor_pb2.AskResponse:
        ctx, ask = self._ask(request, context)
        return result_to_proto(await self._service.ask(ctx, ask))

    @grpc_method
    async def AskStream(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.AskRequest, context: Context
    ) -> None:
        ctx, ask = self._ask(request, context)
        run = self._streaming().open(ctx, ask)
        await self._write(run.listen(), context)
        if run.error is not None:
            raise run.error  # the status Ask would have ended with

    @grpc_method
    async def ResumeStream(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.ResumeStreamRequest, context: Context
    ) -> None:
        ctx = self._service.context(
            principal=current_principal(), time_remaining=context.time_remaining()
        )
        events = self._streaming().resume(ctx, request.request_id, request.after_sequence)
        await self._write(events, context)

    async def _write(self, events: AsyncGenerator[Numbered, None], context: Context) -> None:
        """Writes each event as it comes; times the first text (TTFT) and the rest."""
        clock = self._stream_metrics.clock()
        output_tokens = 0
        try:
            async with contextlib.aclosing(events):  # stop listening at once when cancelled
                async for numbered in events:
                    event = numbered.event
                    if isinstance(event, PartEvent) and isinstance(event.event, TextDelta):
                        clock.text()
                    elif isinstance(event, Finished):
                        output_tokens = event.result.usage.output_tokens
                    await context.write(ask_event_to_proto(numbered))
        except asyncio.CancelledError:
            clock.cancelled()
            raise
        clock.done(output_tokens)

    def _streaming(self) -> StreamingAsk:
        if self._streams is None:
            raise errors.Unavailable("this supervisor does not stream (built without a hub)")
        return self._streams

    def _ask(
        self, request: supervisor_pb2.AskRequest, context: Context
    ) -> tuple[RequestContext, AskInput]:
        """The request context and input of an Ask or AskStream."""
        metadata = validate_metadata(request.metadata, self._limits)
        ctx = self._service.context(
            principal=current_principal(),
            request_id=request.request_id,
            session_id=request.session_id,
            metadata=metadata,
            budget=Budget.from_metadata(tuple(context.invocation_metadata() or ())),
            time_remaining=context.time_remaining(),
        )
        ask = AskInput(
            text=request.text,
            metadata=metadata,
            agent=request.agent,
            confirm_action=request.confirm_action,
            idempotent=bool(request.request_id),
        )
        return ctx, ask

    @grpc_method
    async def Route(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.RouteRequest, context: Context
    ) -> supervisor_pb2.RouteDecision:
        ctx = self._service.context(
            principal=current_principal(), time_remaining=context.time_remaining()
        )
        return decision_to_proto(await self._service.route(request.text, ctx))

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

    @grpc_method
    async def GetResult(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.GetResultRequest, context: Context
    ) -> supervisor_pb2.AskResponse:
        results = self._caller_results()
        ctx = self._service.context(
            principal=current_principal(), time_remaining=context.time_remaining()
        )
        return result_to_proto(await results.result(ctx, request.request_id))

    @grpc_method
    async def Feedback(  # noqa: N802 - gRPC method name
        self, request: supervisor_pb2.FeedbackRequest, context: Context
    ) -> supervisor_pb2.FeedbackResponse:
        results = self._caller_results()
        ctx = self._service.context(
            principal=current_principal(), time_remaining=context.time_remaining()
        )
        which = request.WhichOneof("rating")
        thumbs = {supervisor_pb2.THUMB_UP: 1, supervisor_pb2.THUMB_DOWN: -1}
        rating = Rating(
            thumb=thumbs.get(request.thumb) if which == "thumb" else None,
            score=request.score if which == "score" else None,
            comment=request.comment,
        )
        recorded = await results.give(ctx, request.request_id, rating)
        return supervisor_pb2.FeedbackResponse(
            request_id=recorded.request_id,
            replaced=recorded.replaced,
            agent=recorded.agent,
            status=status_to_proto(Outcome(recorded.status))
            if recorded.status in Outcome._value2member_map_
            else None,
        )

    def _caller_results(self) -> CallerResults:
        if self._results is None:
            raise errors.Unavailable("this supervisor keeps no results (built without a store)")
        return self._results
