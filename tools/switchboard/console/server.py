"""Serves the console with uvicorn until SIGINT/SIGTERM (``switchboard console``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import uvicorn

from switchboard.console.app import create_app
from switchboard.console.settings import ConsoleSettings
from switchboard.core.serving import write_ready_file

log = logging.getLogger(__name__)


def server_for(settings: ConsoleSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
    return uvicorn.Server(config)


def bound_port(server: uvicorn.Server) -> int:
    """The port uvicorn bound (``port=0`` picks a free one)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("the console is not listening")


async def serve_console(settings: ConsoleSettings, *, ready_file: Path | None = None) -> None:
    server = server_for(settings)
    task = asyncio.create_task(server.serve(), name="console")
    while not server.started:
        if task.done():
            await task  # start-up failed (the port is taken...): raise it
            raise RuntimeError("the console stopped during start-up")
        await asyncio.sleep(0.05)
    port = bound_port(server)
    write_ready_file(ready_file, port)
    print(
        f"review console on http://{settings.host}:{port} (Review service at "
        f"{settings.supervisor})",
        flush=True,
    )
    await task
