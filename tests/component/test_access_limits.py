"""Finding 7 (low): what callers without credentials could do to a server.

Every unauthenticated call used to write an audit row (3,000 in 3 s); idle and half-sent
connections were kept forever; health and reflection told anyone the agents' names and
breaker states. Now: failed authentications are rate limited per address before any audit
write, refusals are aggregated into a few rows, idle and unfinished connections are closed,
and per-service health and reflection need credentials.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from switchboard.core.access import access_interceptor
from switchboard.core.audit import AuditKind
from switchboard.core.auth import CallerAuthenticator, TokenEntry, TokenTable
from switchboard.core.serving import GrpcService, start_grpc
from switchboard.core.settings import LimitSettings, ServerSettings
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.audit import AuditRecorder

TOKEN = "a-valid-caller-token-0123456789"


class Supervisor:
    """A stand-in Supervisor service: ListAgents answers, so admitted calls are visible."""

    async def ListAgents(self, request: Any, context: Any) -> Any:  # noqa: N802
        return supervisor_pb2.ListAgentsResponse()

    async def Ask(self, request: Any, context: Any) -> Any:  # noqa: N802
        return supervisor_pb2.AskResponse()

    async def Route(self, request: Any, context: Any) -> Any:  # noqa: N802
        return supervisor_pb2.RouteDecision()

    async def GetResult(self, request: Any, context: Any) -> Any:  # noqa: N802
        return supervisor_pb2.AskResponse()

    async def Feedback(self, request: Any, context: Any) -> Any:  # noqa: N802
        return supervisor_pb2.FeedbackResponse()

    async def AskStream(self, request: Any, context: Any) -> None:  # noqa: N802
        await context.write(supervisor_pb2.AskEvent(sequence=1, final=supervisor_pb2.AskResponse()))

    async def ResumeStream(self, request: Any, context: Any) -> None:  # noqa: N802
        await context.write(supervisor_pb2.AskEvent(sequence=1, final=supervisor_pb2.AskResponse()))


async def serve(
    audit: AuditRecorder, server: ServerSettings | None = None
) -> tuple[GrpcService, Any]:
    access = access_interceptor(
        CallerAuthenticator(
            TokenTable([TokenEntry.model_validate({"tenant": "acme", "token": TOKEN})])
        ),
        LimitSettings(auth_failure_rate_per_s=1.0, auth_failure_burst=5, refusal_audit_window_s=60),
        audit,
    )
    service = await start_grpc(
        [(supervisor_pb2.DESCRIPTOR.services_by_name["Supervisor"], Supervisor())],
        host="127.0.0.1",
        port=0,
        interceptors=[access],
        settings=server or ServerSettings(),
    )
    await service.health.set("switchboard.v1.Agent/billing", health_pb2.HealthCheckResponse.SERVING)
    return service, access


@pytest.fixture
async def server() -> AsyncIterator[tuple[GrpcService, Any, AuditRecorder]]:
    audit = AuditRecorder()
    service, access = await serve(audit)
    yield service, access, audit
    await service.stop(0)


async def test_a_flood_of_bad_tokens_is_limited_and_aggregated(
    server: tuple[GrpcService, Any, AuditRecorder],
) -> None:
    service, access, audit = server
    codes = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = supervisor_pb2_grpc.SupervisorStub(channel)
        for _ in range(300):
            try:
                await stub.ListAgents(
                    supervisor_pb2.ListAgentsRequest(),
                    metadata=[("authorization", "Bearer not-a-real-token-000000")],
                    timeout=5,
                )
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
        assert codes.count(grpc.StatusCode.UNAUTHENTICATED) <= 6  # the burst (5), maybe a refill
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 294
        # The same address with a valid token is still served: only failures are limited.
        await stub.ListAgents(
            supervisor_pb2.ListAgentsRequest(), metadata=[("authorization", f"Bearer {TOKEN}")]
        )
    assert len(audit.events) == 2  # first of each kind; the rest are counted
    access.flush()
    rows = audit.events
    assert len(rows) == 4
    counted = {(e.kind, e.detail.get("reason")): int(e.detail.get("repeats", 0)) for e in rows}  # type: ignore[arg-type]
    assert sum(counted.values()) + 2 == 300
    assert {k for k, _ in counted} == {AuditKind.AUTH_FAILURE, AuditKind.LIMIT_EXCEEDED}


async def test_health_details_and_reflection_need_credentials(
    server: tuple[GrpcService, Any, AuditRecorder],
) -> None:
    service, _, _ = server
    token = [("authorization", f"Bearer {TOKEN}")]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert overall.status == health_pb2.HealthCheckResponse.SERVING  # probes need no token
        named = health_pb2.HealthCheckRequest(service="switchboard.v1.Agent/billing")
        for call in (
            health.Check(named, timeout=5),
            health.List(health_pb2.HealthListRequest(), timeout=5),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert (await health.Check(named, metadata=token, timeout=5)).status == (
            health_pb2.HealthCheckResponse.SERVING
        )
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        listing = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in reflection.ServerReflectionInfo(iter([listing]), timeout=5):
                pass
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        names = [
            s.name
            async for reply in reflection.ServerReflectionInfo(
                iter([listing]), metadata=token, timeout=5
            )
            for s in reply.list_services_response.service
        ]
        assert "switchboard.v1.Supervisor" in names


def _closed_after(port: int, send: bytes, limit: float) -> float:
    """Seconds until the server closes a raw connection that sent only ``send``."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(limit)
        if send:
            s.sendall(send)
        started = time.monotonic()
        while s.recv(4096):
            pass
        return time.monotonic() - started


async def test_idle_and_unfinished_connections_are_closed() -> None:
    audit = AuditRecorder()
    service, _ = await serve(
        audit, ServerSettings(handshake_timeout_s=0.5, max_connection_idle_s=0.5)
    )
    try:
        # Nothing sent, and half the HTTP/2 preface: the handshake never completes.
        for send in (b"", b"PRI * HTTP/2.0\r\n"):
            assert await asyncio.to_thread(_closed_after, service.port, send, 10.0) < 5.0
        # A working connection that goes quiet is closed (GOAWAY): the channel goes IDLE.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert channel.get_state() == grpc.ChannelConnectivity.READY
            for _ in range(100):
                await asyncio.sleep(0.05)
                if channel.get_state() == grpc.ChannelConnectivity.IDLE:
                    break
            assert channel.get_state() == grpc.ChannelConnectivity.IDLE
    finally:
        await service.stop(0)
