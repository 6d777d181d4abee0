"""A small async client for the Supervisor service (used by the CLI and the demo)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType

import grpc

from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc


class SupervisorClient:
    def __init__(self, address: str, *, timeout: float = 30.0, token: str | None = None) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = supervisor_pb2_grpc.SupervisorStub(self._channel)
        self.timeout = timeout
        self._auth = [("authorization", f"Bearer {token}")] if token else []

    def _metadata(self, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        return [*self._auth, *extra]

    async def __aenter__(self) -> SupervisorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def ask(
        self,
        text: str,
        *,
        session_id: str = "",
        agent: str = "",
        request_id: str = "",
        metadata: Sequence[tuple[str, str]] = (),
    ) -> supervisor_pb2.AskResponse:
        """``metadata`` is sent as gRPC metadata (budgets: ``x-switchboard-budget-*``)."""
        request = supervisor_pb2.AskRequest(
            text=text, session_id=session_id, agent=agent, request_id=request_id
        )
        reply: supervisor_pb2.AskResponse = await self._stub.Ask(
            request, timeout=self.timeout, metadata=self._metadata(metadata)
        )
        return reply

    def ask_stream(
        self,
        text: str,
        *,
        session_id: str = "",
        agent: str = "",
        request_id: str = "",
        metadata: Sequence[tuple[str, str]] = (),
    ) -> AsyncIterator[supervisor_pb2.AskEvent]:
        """AskStream's events as they arrive (docs/streaming.md); the last is ``final``."""
        request = supervisor_pb2.AskRequest(
            text=text, session_id=session_id, agent=agent, request_id=request_id
        )
        events: AsyncIterator[supervisor_pb2.AskEvent] = self._stub.AskStream(
            request, timeout=self.timeout, metadata=self._metadata(metadata)
        )
        return events

    async def route(self, text: str) -> supervisor_pb2.RouteDecision:
        decision: supervisor_pb2.RouteDecision = await self._stub.Route(
            supervisor_pb2.RouteRequest(text=text), timeout=self.timeout, metadata=self._metadata()
        )
        return decision

    async def get_result(self, request_id: str) -> supervisor_pb2.AskResponse:
        """The current answer to an earlier request (a person's, once resolved)."""
        reply: supervisor_pb2.AskResponse = await self._stub.GetResult(
            supervisor_pb2.GetResultRequest(request_id=request_id),
            timeout=self.timeout,
            metadata=self._metadata(),
        )
        return reply

    async def list_agents(self) -> supervisor_pb2.ListAgentsResponse:
        listing: supervisor_pb2.ListAgentsResponse = await self._stub.ListAgents(
            supervisor_pb2.ListAgentsRequest(), timeout=self.timeout, metadata=self._metadata()
        )
        return listing


async def check_health(
    address: str, service: str = "", timeout: float = 2.0, *, token: str | None = None
) -> bool:
    """True when the server at ``address`` reports SERVING for ``service`` (a named service
    needs the caller's ``token`` when the server requires credentials)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service),
                timeout=timeout,
                metadata=[("authorization", f"Bearer {token}")] if token else None,
            )
        except grpc.aio.AioRpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
