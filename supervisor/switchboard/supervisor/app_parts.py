"""The supervisor's composition root's builders: the parts ``build_supervisor`` wires that
take a few decisions of their own (who may call, how agents are reached, whether Claude
routes, how requests are screened). Only the root calls them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from switchboard.core.auth import CallerAuthenticator, ServiceTokenIssuer
from switchboard.core.auth import service_secret as configured_secret
from switchboard.core.breaker import Publisher
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import AnthropicLLM, anthropic_llm
from switchboard.core.types import AgentCard
from switchboard.guard import Guard, load_guard
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.gateway.agents import AgentGateway, BreakerPolicy, CallPolicy
from switchboard.supervisor.gateway.client import AgentClient
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Router
from switchboard.supervisor.screening import GuardScreener, NoScreening, Screener
from switchboard.supervisor.settings import SupervisorSettings

log = logging.getLogger(__name__)


def gateway(
    settings: SupervisorSettings,
    agents: Sequence[AgentEntry],
    client: AgentClient,
    router: Router,
    card_index: EmbeddingIndex | None,
    metrics: SupervisorMetrics,
    publish: Publisher,
) -> AgentGateway:
    async def refit(cards: Sequence[AgentCard]) -> None:
        if card_index is None or not router.ready:
            await router.fit(cards)

    return AgentGateway(
        agents,
        client,
        on_cards=refit,
        calls=CallPolicy(
            agent_timeout_s=settings.agent_timeout_s,
            deadline_margin_s=settings.deadline_margin_s,
            describe_timeout_s=settings.describe_timeout_s,
        ),
        breakers=BreakerPolicy(
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout_s=settings.breaker_reset_s,
            escalate_when_down=settings.escalate_when_agent_down,
        ),
        metrics=metrics,
        publish=publish,
    )


def authenticator(settings: SupervisorSettings) -> CallerAuthenticator:
    """Who may call the supervisor (docs/security.md)."""
    authenticator = CallerAuthenticator.from_settings(settings.auth)
    if authenticator.open:
        log.warning(
            "SWITCHBOARD_AUTH_TOKENS is not set: the supervisor accepts calls without "
            "credentials (set it, or SWITCHBOARD_AUTH_TOKENS_FILE, outside local use)"
        )
    return authenticator


def issuer(settings: SupervisorSettings) -> ServiceTokenIssuer | None:
    """How the supervisor proves itself to agents."""
    secret = configured_secret(settings.auth)
    if secret is None:
        log.warning("SWITCHBOARD_SERVICE_TOKEN is not set: calls to agents carry no credentials")
        return None
    return ServiceTokenIssuer(secret, ttl_s=settings.auth.service_token_ttl_s)


def router_llm(settings: SupervisorSettings) -> AnthropicLLM | None:
    llm = anthropic_llm(
        settings.llm, settings.router_model, capture_content=settings.telemetry.capture_content
    )
    if llm is None:
        log.warning("ANTHROPIC_API_KEY is not set: unsure routing asks the user to clarify")
    return llm


async def screener(
    settings: SupervisorSettings, embedder: Embedder, guard: Guard | None
) -> Screener:
    if not settings.guard.enabled:
        log.warning("prompt-injection screening is off (SWITCHBOARD_GUARD_ENABLED=false)")
        return NoScreening()
    if guard is None:
        guard = await asyncio.to_thread(
            load_guard, settings.guard, embedder, data_dir=settings.data_dir
        )
    return GuardScreener(guard, suspicious_fraction=settings.guard.suspicious_fraction)
