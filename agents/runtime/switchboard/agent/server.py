"""Wires one agent service together: settings, store, embedder, LLM, gRPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from grpc_health.v1.health_pb2 import HealthCheckResponse

from switchboard.agent.api.servicer import AgentServicer
from switchboard.agent.config import AgentConfig, AgentSettings
from switchboard.agent.knowledge.store import open_store
from switchboard.agent.llm_breaker import HEALTH_SERVICE, LLMBreaker
from switchboard.agent.runtime import AgentRuntime
from switchboard.agent.screening import PassageScreen
from switchboard.agent.tools import DemoBackend, brightlane_tools
from switchboard.agent.tools.actions import ActionSigner
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.access import AccessInterceptor
from switchboard.core.auth import ServiceAuthenticator
from switchboard.core.breaker import CircuitBreaker
from switchboard.core.embeddings import shared_embedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.logs import configure_logging
from switchboard.core.serving import (
    GrpcService,
    run_until_signalled,
    start_grpc,
    write_ready_file,
)
from switchboard.guard import GuardSettings, shared_guard
from switchboard.store import AuditWriter, Store, StoreSettings, ToolEffects
from switchboard.v1 import agent_pb2

log = logging.getLogger(__name__)
SERVING = HealthCheckResponse.SERVING
NOT_SERVING = HealthCheckResponse.NOT_SERVING


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
    authenticator = ServiceAuthenticator.from_settings(settings)  # bad config fails here
    if authenticator.open:
        log.warning("SWITCHBOARD_SERVICE_TOKEN is not set: this agent accepts calls from anyone")
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
    db = await Store.open(StoreSettings())
    audit = AuditWriter(db.audit)
    audit.start()
    service: GrpcService | None = None

    async def publish_llm_health(usable: bool) -> None:
        if service is not None:
            await service.health.set(HEALTH_SERVICE, SERVING if usable else NOT_SERVING)

    screen = await _passage_screen(embedder.dimension)
    runtime = AgentRuntime(
        config,
        store=store,
        embedder=embedder,
        llm=llm,
        prices=settings.prices,
        max_text_chars=settings.max_text_chars,
        tools=_tool_runner(config, settings, audit=audit, screen=screen, effects=db.effects),
        screen=screen,
        audit=audit,
        breaker=LLMBreaker(
            CircuitBreaker(
                "llm",
                failure_threshold=settings.llm_breaker_threshold,
                reset_timeout_s=settings.llm_breaker_reset_s,
            ),
            agent=config.name,
            publish=publish_llm_health,
        ),
    )
    await runtime.retriever.load()  # hybrid: builds BM25 from the store; no-op for dense
    servicer = AgentServicer(runtime, await asyncio.to_thread(config.card))
    service = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], servicer)],
        host=host,
        port=port,
        interceptors=[AccessInterceptor(authenticator, audit=audit)],
    )
    if llm is None:  # health of the LLM path: NOT_SERVING while off or its breaker is open
        await service.health.set(HEALTH_SERVICE, NOT_SERVING)
    else:
        await runtime.breaker.publish()
    write_ready_file(ready_file, service.port)
    log.info(
        "agent serving",
        extra={"agent": config.name, "port": service.port, "chunks": count, "llm": llm is not None},
    )

    async def cleanup() -> None:
        await audit.close()
        await db.close()
        if llm is not None:
            await llm.close()
        telemetry.shutdown()

    await run_until_signalled(service, grace=settings.shutdown_grace_s, on_stop=cleanup)


async def _passage_screen(dimension: int) -> PassageScreen | None:
    """The injection guard over passages and tool outputs (off: SWITCHBOARD_GUARD_ENABLED=0).

    Its classifier is trained once and cached under the data dir, so later starts take
    milliseconds.
    """
    if not GuardSettings().enabled:
        log.warning("SWITCHBOARD_GUARD_ENABLED is off: passages and tool outputs are not screened")
        return None
    # The guard embeds with the same shared model as the store, so stored vectors are reused.
    return PassageScreen(await asyncio.to_thread(shared_guard), dimension=dimension)


def _tool_runner(
    config: AgentConfig,
    settings: AgentSettings,
    *,
    audit: AuditWriter,
    screen: PassageScreen | None,
    effects: ToolEffects,
) -> ToolRunner | None:
    """The agent's allowed tools over the demo backend (docs/tools.md), or None."""
    if not config.tools:
        return None
    backend = DemoBackend.load(settings.tools_data)
    secret = settings.action_secret.get_secret_value() if settings.action_secret else None
    return ToolRunner(
        brightlane_tools(backend).select(config.tools),
        agent=config.name,
        signer=ActionSigner.from_secret(secret, ttl_s=settings.action_ttl_s),
        audit=audit,
        screen=screen,
        effects=effects,
    )
