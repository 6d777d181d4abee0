"""Wires the supervisor together: settings, agents file, router, agent client, gRPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from switchboard.core.embeddings import shared_embedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.logs import configure_logging
from switchboard.core.serving import run_until_signalled, start_grpc, write_ready_file
from switchboard.core.telemetry import setup_telemetry
from switchboard.store import AuditWriter, Store, StoreSettings
from switchboard.supervisor.config import AgentsFile, SupervisorSettings
from switchboard.supervisor.dispatch import GrpcAgentClient
from switchboard.supervisor.router import Router
from switchboard.supervisor.service import SupervisorService
from switchboard.supervisor.servicer import SupervisorServicer
from switchboard.v1 import supervisor_pb2

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
    configure_logging("supervisor", settings.log_level)
    telemetry = setup_telemetry("switchboard-supervisor")
    agents = AgentsFile.load(agents_file).agents
    llm = None
    if settings.llm_enabled and settings.anthropic_api_key is not None:
        llm = AnthropicLLM(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            model=settings.router_model,
            max_retries=settings.llm_max_retries,
            timeout=settings.llm_timeout_s,
        )
    else:
        log.warning("ANTHROPIC_API_KEY is not set: unsure routing asks the user to clarify")
    router = Router(
        await asyncio.to_thread(shared_embedder),
        accept_confidence=settings.route_accept_confidence,
        min_similarity=settings.route_min_similarity,
        out_of_scope_similarity=settings.route_out_of_scope_similarity,
        llm=llm,
        temperature=settings.route_temperature,
    )
    store = await Store.open(StoreSettings())
    audit = AuditWriter(store.audit)
    audit.start()
    client = GrpcAgentClient({a.name: a.address for a in agents})
    service = SupervisorService(
        agents,
        client=client,
        router=router,
        prices=settings.prices,
        max_text_chars=settings.max_text_chars,
        agent_timeout_s=settings.agent_timeout_s,
        deadline_margin_s=settings.deadline_margin_s,
        describe_timeout_s=settings.describe_timeout_s,
        audit=audit,
    )
    await service.load_cards()
    server = await start_grpc(
        [(supervisor_pb2.DESCRIPTOR.services_by_name["Supervisor"], SupervisorServicer(service))],
        host=host,
        port=port,
    )
    write_ready_file(ready_file, server.port)
    log.info("supervisor serving", extra={"port": server.port, "agents": [a.name for a in agents]})

    async def cleanup() -> None:
        await audit.close()
        await store.close()
        await client.close()
        if llm is not None:
            await llm.close()
        telemetry.shutdown()

    await run_until_signalled(server, grace=settings.shutdown_grace_s, on_stop=cleanup)
