"""Runs a grpc.aio server the same way for every service.

Health and reflection are always on (per-service health and reflection need credentials:
``access.py``); requests that do not parse are answered INVALID_ARGUMENT (not INTERNAL);
connections that stay idle, never finish their handshake, or hold a call open past their age
are closed (``ServerSettings``); SIGTERM/SIGINT drain in-flight calls within a grace period.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from switchboard.core.grpc_errors import tolerant_deserializer
from switchboard.core.settings import ServerSettings

log = logging.getLogger(__name__)

# Message and header limits (connection timing comes from ServerSettings: server_options).
SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    # Request headers (metadata) beyond 16 KiB are refused (RESOURCE_EXHAUSTED) before any
    # handler runs; soft and hard limit alike, so the cut is not probabilistic.
    ("grpc.max_metadata_size", 16 * 1024),
    ("grpc.absolute_max_metadata_size", 16 * 1024),
]


def server_options(settings: ServerSettings | None = None) -> list[tuple[str, Any]]:
    """Every server option: connection ageing (clients re-resolve and spread over new
    replicas), idle and handshake timeouts, keepalive, message and header limits."""
    s = settings or ServerSettings()

    def ms(seconds: float) -> int:
        return int(seconds * 1000)

    return [
        ("grpc.max_connection_idle_ms", ms(s.max_connection_idle_s)),
        ("grpc.max_connection_age_ms", ms(s.max_connection_age_s)),
        ("grpc.max_connection_age_grace_ms", ms(s.max_connection_age_grace_s)),
        ("grpc.server_handshake_timeout_ms", ms(s.handshake_timeout_s)),
        ("grpc.keepalive_time_ms", ms(s.keepalive_time_s)),
        ("grpc.keepalive_timeout_ms", ms(s.keepalive_timeout_s)),
        # Clients may ping at most every 10 s without calls; more gets them disconnected.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        *SERVER_OPTIONS,
    ]


def generic_handler(descriptor: ServiceDescriptor, servicer: object) -> grpc.GenericRpcHandler:
    """Handlers for every method of ``descriptor``, with tolerant request parsing: unary
    methods, and server-streaming ones (``InvokeStream``, ``AskStream``), whose servicer
    method writes its events with ``context.write``. Both pass the access interceptor."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in descriptor.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=tolerant_deserializer(request_cls),
            response_serializer=response_cls.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(descriptor.full_name, handlers)


class GrpcService:
    """A started server, its health servicer and the port it is bound to."""

    def __init__(self, server: grpc.aio.Server, health_servicer: Any, port: int) -> None:
        self.server = server
        self.health = health_servicer
        self.port = port
        self._stopped = False

    async def stop(self, grace: float) -> None:
        """Marks NOT_SERVING (load balancers stop sending) then drains in-flight calls.
        Stopping twice is harmless (the second call returns at once)."""
        if self._stopped:
            return
        self._stopped = True
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_grpc(
    services: Sequence[tuple[ServiceDescriptor, object]],
    *,
    host: str,
    port: int,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    settings: ServerSettings | None = None,
) -> GrpcService:
    server = grpc.aio.server(interceptors=list(interceptors), options=server_options(settings))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [d.full_name for d, _ in services]
    for descriptor, servicer in services:
        server.add_generic_rpc_handlers([generic_handler(descriptor, servicer)])
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind {host}:{port}")
    await server.start()
    serving = health_pb2.HealthCheckResponse.SERVING
    await health_servicer.set("", serving)
    for name in names:
        await health_servicer.set(name, serving)
    return GrpcService(server, health_servicer, bound)


def write_ready_file(path: Path | None, port: int) -> None:
    """Tells a parent process (tests, the demo) which port was bound when asked for port 0."""
    if path is None:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": port}))
    tmp.replace(path)


async def run_until_signalled(
    service: GrpcService,
    *,
    grace: float,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serves until SIGTERM or SIGINT, then drains and runs ``on_stop``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("shutting down", extra={"grace_s": grace})
        await service.stop(grace)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if on_stop is not None:
            await on_stop()
    log.info("stopped")
