"""Probes for the console's container: alive, and ready when its supervisor answers.

Liveness never looks past the process (a supervisor outage must not restart every console);
readiness asks the supervisor's standard gRPC health service, which needs no token, so a
console whose supervisor is gone is taken out of the Service until it is back.
"""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from grpc_health.v1 import health_pb2, health_pb2_grpc

READY_TIMEOUT_S = 2.0

router = APIRouter()


@router.get("/healthz", response_class=PlainTextResponse)
async def alive() -> Response:
    return PlainTextResponse("ok")


@router.get("/readyz", response_class=PlainTextResponse)
async def ready(request: Request) -> Response:
    channel: grpc.aio.Channel | None = request.app.state.console.channel
    if channel is None:
        return PlainTextResponse("starting", status_code=503)
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=READY_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as exc:
        return PlainTextResponse(f"supervisor: {exc.code().name}", status_code=503)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        return PlainTextResponse("supervisor: not serving", status_code=503)
    return PlainTextResponse("ready")
