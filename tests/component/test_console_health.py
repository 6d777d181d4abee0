"""The console's probes: alive regardless, ready only while its supervisor reports SERVING."""

from __future__ import annotations

import grpc
import httpx
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from switchboard.console.app import create_app
from switchboard.console.settings import ConsoleSettings


async def test_ready_follows_the_supervisors_health_and_alive_does_not() -> None:
    server = grpc.aio.server()
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    app = create_app(ConsoleSettings(supervisor=f"127.0.0.1:{port}"))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://console") as client,
        ):
            await checker.set("", health_pb2.HealthCheckResponse.SERVING)
            assert (await client.get("/readyz")).status_code == 200
            await checker.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            assert (await client.get("/readyz")).status_code == 503
            await server.stop(0)
            down = await client.get("/readyz")
            assert down.status_code == 503 and "UNAVAILABLE" in down.text
            assert (await client.get("/healthz")).text == "ok"
    finally:
        await server.stop(0)
