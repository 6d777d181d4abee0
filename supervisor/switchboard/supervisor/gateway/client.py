"""Calls agents over gRPC: one reused channel per agent, deadlines, retries on UNAVAILABLE.

Every Invoke carries the request's remaining budget and the supervisor's signed service token
as metadata (agents accept only the supervisor; see ``core/auth.py``).
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

import grpc

from switchboard.core import errors
from switchboard.core.auth import CUSTOMER_NOT_OWNED, AccessDenied, ServiceTokenIssuer
from switchboard.core.context import RequestContext
from switchboard.core.grpc_errors import REASON_TRAILER, error_from_status, trailer
from switchboard.core.stream_wire import invoke_event_from_proto
from switchboard.core.streaming import AnswerEvents
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest
from switchboard.core.wire import answer_from_proto, card_from_proto, invoke_request_to_proto
from switchboard.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

# Retries only UNAVAILABLE (the call never reached a healthy agent), with throttling so a
# struggling agent is not buried in retries; round_robin spreads calls over every address a
# name resolves to (replicas).
SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [{"service": "switchboard.v1.Agent"}],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.05s",
                "maxBackoff": "0.5s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
}
CHANNEL_OPTIONS = [
    ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


class AgentFault(errors.Unavailable):
    """The agent answered INTERNAL/UNKNOWN: it is up but failed on this request. Escalated
    like an outage, never counted against the agent's circuit breaker."""


class AgentClient(Protocol):
    """How the supervisor reaches agents; a fake stands in for it in unit tests."""

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        """``ctx`` says who asks and carries the budget left for the agent."""
        ...

    async def invoke_stream(
        self,
        agent: str,
        request: AgentRequest,
        ctx: RequestContext,
        *,
        timeout: float,
        events: AnswerEvents,
    ) -> AgentAnswer:
        """``invoke``, streamed: the agent's events go to ``events`` as they arrive; the
        final answer is returned."""
        ...

    async def describe(self, agent: str, *, timeout: float) -> AgentCard: ...

    async def close(self) -> None: ...


class GrpcAgentClient:
    def __init__(
        self,
        addresses: dict[str, str],
        *,
        service_tokens: ServiceTokenIssuer | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._addresses = dict(addresses)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._tokens = service_tokens
        self._credentials = credentials

    def _auth(self) -> list[tuple[str, str]]:
        return self._tokens.metadata() if self._tokens is not None else []

    def _stub(self, agent: str) -> agent_pb2_grpc.AgentStub:
        channel = self._channels.get(agent)
        if channel is None:
            address = self._addresses.get(agent)
            if address is None:
                raise errors.NotFound(f"no agent named {agent!r}")
            if self._credentials is not None:
                channel = grpc.aio.secure_channel(
                    address, self._credentials, options=CHANNEL_OPTIONS
                )
            else:
                channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
            self._channels[agent] = channel
        return agent_pb2_grpc.AgentStub(channel)

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        try:
            reply = await self._stub(agent).Invoke(
                invoke_request_to_proto(request, ctx),
                timeout=timeout,
                metadata=[*ctx.budget.to_metadata(), *self._auth()],
            )
        except grpc.aio.AioRpcError as exc:
            raise self._translate(agent, exc) from exc
        return answer_from_proto(reply, agent)

    async def invoke_stream(
        self,
        agent: str,
        request: AgentRequest,
        ctx: RequestContext,
        *,
        timeout: float,
        events: AnswerEvents,
    ) -> AgentAnswer:
        call = self._stub(agent).InvokeStream(
            invoke_request_to_proto(request, ctx),
            timeout=timeout,
            metadata=[*ctx.budget.to_metadata(), *self._auth()],
        )
        final: AgentAnswer | None = None
        try:
            async for event in call:
                item = invoke_event_from_proto(event, agent)
                if isinstance(item, AgentAnswer):
                    final = item
                elif item is not None:
                    await events.emit(item)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(agent, exc) from exc
        finally:
            call.cancel()  # a no-op once finished; stops the agent when we stop early
        if final is None:
            raise errors.Unavailable(
                f"agent {agent!r} at {self._addresses.get(agent)} ended its stream without "
                "a final answer"
            )
        return final

    async def describe(self, agent: str, *, timeout: float) -> AgentCard:
        try:
            card = await self._stub(agent).Describe(
                agent_pb2.DescribeRequest(), timeout=timeout, metadata=self._auth()
            )
        except grpc.aio.AioRpcError as exc:
            raise self._translate(agent, exc) from exc
        return card_from_proto(card)

    def _translate(self, agent: str, exc: grpc.aio.AioRpcError) -> errors.SwitchboardError:
        """The agent's status as a Switchboard error, with a message naming the agent."""
        code, details = exc.code(), exc.details()
        where = f"agent {agent!r} at {self._addresses.get(agent)}"
        if (
            code == grpc.StatusCode.PERMISSION_DENIED
            and trailer(exc, REASON_TRAILER) == CUSTOMER_NOT_OWNED
        ):
            # The agent refused the caller's end customer (ownership), not our credentials.
            return AccessDenied(details or "not this tenant's customer", reason=CUSTOMER_NOT_OWNED)
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            # A bug in the agent, not an outage: the request is escalated, but the agent's
            # breaker (shared by every tenant) does not count it.
            log.error("agent failed internally", extra={"agent": agent, "code": code.name})
            return AgentFault(f"{where} failed ({code.name}: {details})")
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            # Not the caller's fault: the supervisor and the agent disagree on credentials.
            log.error("agent refused the supervisor's credentials", extra={"agent": agent})
            return errors.Unavailable(
                f"{where} refused the supervisor's credentials ({code.name}: {details}); "
                "check that SWITCHBOARD_SERVICE_TOKEN is the same on the supervisor and the "
                "agent, and that their clocks agree"
            )
        messages = {
            grpc.StatusCode.DEADLINE_EXCEEDED: f"{where} did not answer within the deadline",
            grpc.StatusCode.INVALID_ARGUMENT: f"{where} rejected the request: {details}",
            grpc.StatusCode.UNAVAILABLE: f"{where} is unavailable; retry later ({details})",
            grpc.StatusCode.RESOURCE_EXHAUSTED: f"{where} refused the request: {details}",
            grpc.StatusCode.ABORTED: f"{where} is still carrying out this request: {details}",
        }
        if code not in messages:
            log.warning("agent call failed", extra={"agent": agent, "code": code.name})
        message = messages.get(code, f"{where} failed with {code.name}: {details}")
        return error_from_status(code, message)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
