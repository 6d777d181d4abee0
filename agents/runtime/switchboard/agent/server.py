"""Runs one agent as a process: settings, logging, telemetry, then the composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from switchboard.agent.app import build_agent
from switchboard.agent.config import AgentConfig
from switchboard.agent.settings import AgentSettings
from switchboard.core.logs import configure_logging
from switchboard.core.serving import run_until_signalled, write_ready_file
from switchboard.core.telemetry import setup_telemetry

log = logging.getLogger(__name__)


async def serve_agent(
    config_path: Path,
    *,
    host: str,
    port: int,
    ready_file: Path | None = None,
    settings: AgentSettings | None = None,
) -> None:
    settings = settings or AgentSettings()
    config = AgentConfig.load(config_path)
    configure_logging(f"agent-{config.name}", settings.telemetry.log_level)
    # Instrumentation goes in before any server or channel exists.
    telemetry = setup_telemetry(f"switchboard-agent-{config.name}", settings.telemetry)
    try:
        async with build_agent(config, settings) as app:
            server = await app.serve(host=host, port=port)
            write_ready_file(ready_file, server.port)
            log.info("agent serving", extra={"agent": config.name, "port": server.port})
            await run_until_signalled(server, grace=settings.shutdown_grace_s)
    finally:
        telemetry.shutdown()
