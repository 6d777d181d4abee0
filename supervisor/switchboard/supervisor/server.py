"""Runs the supervisor as a process: settings, logging, telemetry, then the composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from switchboard.core.logs import configure_logging
from switchboard.core.serving import run_until_signalled, write_ready_file
from switchboard.core.telemetry import setup_telemetry
from switchboard.supervisor.app import build_supervisor
from switchboard.supervisor.config import AgentsFile
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)


async def serve_supervisor(
    agents_file: Path,
    *,
    host: str,
    port: int,
    ready_file: Path | None = None,
    settings: SupervisorSettings | None = None,
) -> None:
    settings = settings or SupervisorSettings()
    configure_logging("supervisor", settings.telemetry.log_level)
    # Instrumentation goes in before any server or channel exists.
    telemetry = setup_telemetry("switchboard-supervisor", settings.telemetry)
    agents = AgentsFile.load(agents_file).agents
    try:
        async with build_supervisor(settings, agents) as app:
            server = await app.serve(host=host, port=port)
            write_ready_file(ready_file, server.port)
            log.info(
                "supervisor serving",
                extra={"port": server.port, "agents": [a.name for a in agents]},
            )
            await run_until_signalled(server, grace=settings.shutdown_grace_s)
    finally:
        telemetry.shutdown()  # flushes spans and metrics, also after a failed start
