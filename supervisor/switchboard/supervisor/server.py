"""Wires the supervisor together: settings, agents file, router, agent client, gRPC server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from grpc_health.v1 import health_pb2

from switchboard.core.access import AccessInterceptor
from switchboard.core.auth import CallerAuthenticator, ServiceTokenIssuer, service_secret
from switchboard.core.breaker import BreakerState
from switchboard.core.embeddings import shared_embedder
from switchboard.core.llm import AnthropicLLM
from switchboard.core.logs import configure_logging
from switchboard.core.ratelimit import build_rate_limiter
from switchboard.core.serving import (
    GrpcService,
    run_until_signalled,
    start_grpc,
    write_ready_file,
)
from switchboard.core.telemetry import setup_telemetry
from switchboard.core.textcheck import MetadataLimits
from switchboard.guard import GuardSettings, load_guard
from switchboard.store import AuditWriter, Store, StoreSettings
from switchboard.supervisor.api.servicer import SupervisorServicer
from switchboard.supervisor.compound.merge import AnswerMerger
from switchboard.supervisor.compound.planner import CompoundPlanner
from switchboard.supervisor.config import AgentsFile, SupervisorSettings
from switchboard.supervisor.gateway.client import GrpcAgentClient
from switchboard.supervisor.learning import example_recorder
from switchboard.supervisor.ledger import RequestLedger
from switchboard.supervisor.routing.router import Router
from switchboard.supervisor.routing.sessions import session_memory
from switchboard.supervisor.screening import GuardScreener, NoScreening, Screener
from switchboard.supervisor.service import BreakerPolicy, SupervisorService
from switchboard.v1 import supervisor_pb2

log = logging.getLogger(__name__)


def _credentials(
    settings: SupervisorSettings,
) -> tuple[CallerAuthenticator, ServiceTokenIssuer | None]:
    """Who may call the supervisor, and how it proves itself to agents (docs/security.md)."""
    authenticator = CallerAuthenticator.from_settings(settings)
    if authenticator.open:
        log.warning(
            "SWITCHBOARD_AUTH_TOKENS is not set: the supervisor accepts calls without "
            "credentials (set it, or SWITCHBOARD_AUTH_TOKENS_FILE, outside local use)"
        )
    secret = service_secret(settings)
    if secret is None:
        log.warning("SWITCHBOARD_SERVICE_TOKEN is not set: calls to agents carry no credentials")
        return authenticator, None
    return authenticator, ServiceTokenIssuer(secret, ttl_s=settings.service_token_ttl_s)


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
    authenticator, issuer = _credentials(settings)  # bad config fails here, before the rest
    limiter = build_rate_limiter(settings)
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
    health_ref: list[GrpcService] = []

    async def breaker_health(agent: str, state: BreakerState) -> None:
        """Each agent's breaker as health service ``switchboard.v1.Agent/<name>``."""
        if health_ref:
            status = (
                health_pb2.HealthCheckResponse.NOT_SERVING
                if state is BreakerState.OPEN
                else health_pb2.HealthCheckResponse.SERVING
            )
            await health_ref[0].health.set(f"switchboard.v1.Agent/{agent}", status)

    screener: Screener = NoScreening()
    guard_settings = GuardSettings()
    if guard_settings.enabled:
        guard = await asyncio.to_thread(load_guard, guard_settings)
        screener = GuardScreener(guard, suspicious_fraction=settings.guard_suspicious_fraction)
    else:
        log.warning("prompt-injection screening is off (SWITCHBOARD_GUARD_ENABLED=false)")
    store_settings = StoreSettings()
    store = await Store.open(store_settings)
    audit = AuditWriter(store.audit)
    audit.start()
    client = GrpcAgentClient({a.name: a.address for a in agents}, service_tokens=issuer)
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
        screener=screener,
        breaker_policy=BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout_s=settings.breaker_reset_s,
            escalate_when_down=settings.escalate_when_agent_down,
        ),
        breaker_health=breaker_health,
        planner=CompoundPlanner(router, max_parts=settings.compound_max_parts),
        merger=AnswerMerger(llm, prices=settings.prices),
        sessions=session_memory(store.session_states, settings),
        examples=example_recorder(store.examples, settings),
        default_budget=settings.default_budget,
    )
    await service.load_cards()
    ledger = RequestLedger(store.idempotency, lease_s=store_settings.idempotency_lease_s)
    server = await start_grpc(
        [
            (
                supervisor_pb2.DESCRIPTOR.services_by_name["Supervisor"],
                SupervisorServicer(
                    service,
                    ledger,
                    metadata_limits=MetadataLimits(
                        settings.max_metadata_entries,
                        settings.max_metadata_key_chars,
                        settings.max_metadata_value_chars,
                    ),
                ),
            )
        ],
        host=host,
        port=port,
        interceptors=[AccessInterceptor(authenticator, audit=audit, limiter=limiter)],
    )
    health_ref.append(server)
    for agent in agents:
        await breaker_health(agent.name, BreakerState.CLOSED)
    write_ready_file(ready_file, server.port)
    log.info("supervisor serving", extra={"port": server.port, "agents": [a.name for a in agents]})

    async def cleanup() -> None:
        if limiter is not None:
            await limiter.close()
        await service.close()  # writes queued example candidates
        await audit.close()
        await store.close()
        await client.close()
        if llm is not None:
            await llm.close()
        telemetry.shutdown()

    await run_until_signalled(server, grace=settings.shutdown_grace_s, on_stop=cleanup)
