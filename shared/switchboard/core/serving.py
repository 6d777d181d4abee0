"""Runs a grpc.aio server the same way for every service.

Health and reflection are always on; requests that do not parse are answered
INVALID_ARGUMENT (not INTERNAL); SIGTERM/SIGINT drain in-flight calls within a grace period.
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

log = logging.getLogger(__name__)

# Server-side keepalive and connection ageing: clients re-resolve and spread over new replicas.
SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_connection_age_ms", 5 * 60 * 1000),
    ("grpc.max_connection_age_grace_ms", 30 * 1000),
    ("grpc.keepalive_time_ms", 60 * 1000),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    # Request headers (metadata) beyond 16 KiB are refused (RESOURCE_EXHAUSTED) before any
    # handler runs; soft and hard limit alike, so the cut is not probabilistic.
    ("grpc.max_metadata_size", 16 * 1024),
    ("grpc.absolute_max_metadata_size", 16 * 1024),
]


def generic_handler(descriptor: ServiceDescriptor, servicer: object) -> grpc.GenericRpcHandler:
    """Unary handlers for every method of ``descriptor``, with tolerant request parsing."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in descriptor.methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
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
) -> GrpcService:
    server = grpc.aio.server(interceptors=list(interceptors), options=SERVER_OPTIONS)
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
