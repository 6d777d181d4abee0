"""Serves the console with uvicorn until SIGINT/SIGTERM (``switchboard console``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from switchboard.console.app import create_app
from switchboard.console.settings import ConsoleSettings
from switchboard.core.serving import write_ready_file

log = logging.getLogger(__name__)


class _ProcessServer(uvicorn.Server):
    """The console as its own process: SIGINT/SIGTERM stop it gracefully and it exits 0
    (uvicorn's own handlers re-raise the signal after shutting down, so a stack stopping
    its services in order would see the console killed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        self.should_exit = True


def server_for(settings: ConsoleSettings, *, process: bool = False) -> uvicorn.Server:
    """A uvicorn server for the console (``process``: handles the process's signals)."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
    return _ProcessServer(config) if process else uvicorn.Server(config)


def bound_port(server: uvicorn.Server) -> int:
    """The port uvicorn bound (``port=0`` picks a free one)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("the console is not listening")


async def serve_console(settings: ConsoleSettings, *, ready_file: Path | None = None) -> None:
    server = server_for(settings, process=True)
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
