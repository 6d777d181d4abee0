"""Wires one agent service together: settings, store, embedder, LLM, gRPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from switchboard.agent.config import AgentConfig, AgentSettings
from switchboard.agent.runtime import AgentRuntime
from switchboard.agent.servicer import AgentServicer
from switchboard.agent.store import open_store
from switchboard.core.embeddings import shared_embedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.logs import configure_logging
from switchboard.core.serving import run_until_signalled, start_grpc, write_ready_file
from switchboard.v1 import agent_pb2

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
    configure_logging(f"agent-{config.name}", settings.log_level)
    from switchboard.core.telemetry import setup_telemetry

    telemetry = setup_telemetry(f"switchboard-agent-{config.name}")
    embedder = await asyncio.to_thread(shared_embedder)
    store = await asyncio.to_thread(open_store, config, settings)
    count = await asyncio.to_thread(store.count)
    if count == 0:
        log.warning(
            "knowledge store is empty; run 'switchboard ingest'", extra={"agent": config.name}
        )
    llm = None
    if settings.llm_enabled and settings.anthropic_api_key is not None:
        llm = AnthropicLLM(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            model=settings.model or config.llm.model,
            max_retries=settings.llm_max_retries,
            timeout=settings.llm_timeout_s,
        )
    else:
        log.warning("ANTHROPIC_API_KEY is not set: answering with the offline extractive backend")
    runtime = AgentRuntime(
        config,
        store=store,
        embedder=embedder,
        llm=llm,
        prices=settings.prices,
        max_text_chars=settings.max_text_chars,
    )
    await runtime.retriever.load()  # hybrid: builds BM25 from the store; no-op for dense
    servicer = AgentServicer(runtime, await asyncio.to_thread(config.card))
    service = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], servicer)], host=host, port=port
    )
    write_ready_file(ready_file, service.port)
    log.info(
        "agent serving",
        extra={"agent": config.name, "port": service.port, "chunks": count, "llm": llm is not None},
    )

    async def cleanup() -> None:
        if llm is not None:
            await llm.close()
        telemetry.shutdown()

    await run_until_signalled(service, grace=settings.shutdown_grace_s, on_stop=cleanup)
