"""One supervisor or one agent, built by its composition root with test overrides."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from switchboard.agent.app import AgentApp, build_agent
from switchboard.agent.app import Overrides as AgentOverrides
from switchboard.agent.config import AgentConfig
from switchboard.agent.settings import AgentSettings
from switchboard.core.auth import Principal
from switchboard.core.budget import Budget
from switchboard.core.context import RequestContext
from switchboard.core.settings import MemorySettings
from switchboard.core.types import AgentCard
from switchboard.guard import GuardSettings
from switchboard.supervisor.app import Overrides as SupervisorOverrides
from switchboard.supervisor.app import SupervisorApp, build_supervisor
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.results import AskInput, AskResult
from switchboard.supervisor.settings import SupervisorSettings

OFF = GuardSettings(enabled=False)
#: The conversation store's deadline in tests (shipped: 0.3 s, a latency budget). On a loaded
#: 2-core CI machine a read queued behind other writes on SQLite's one connection can pass
#: it, and the answer then goes out without memory (CI saw it once). Tests of that fallback
#: break the store itself instead of relying on the clock. Session state keeps its shipped
#: 0.5 s: the example recorder shares it, and a long deadline there let a fault run's
#: recorder hold the connection for seconds per candidate while the store was locked.
MEMORY_TIMEOUT_S = 3.0


def strict_grounding(config: AgentConfig) -> AgentConfig:
    """``config`` with ``llm.uncited: escalate``."""
    return config.model_copy(update={"llm": config.llm.model_copy(update={"uncited": "escalate"})})


def supervisor_settings(data_dir: Path, **values: Any) -> SupervisorSettings:
    """Settings for a test supervisor: its files under ``data_dir``; the guard off unless a
    guard is passed as an override (or ``guard=`` given here)."""
    values.setdefault("guard", OFF)
    memory = values.get("memory") or MemorySettings()
    if "timeout_s" not in memory.model_fields_set:
        values["memory"] = memory.model_copy(update={"timeout_s": MEMORY_TIMEOUT_S})
    return SupervisorSettings(data_dir=data_dir, **values)


def agent_settings(data_dir: Path, **values: Any) -> AgentSettings:
    values.setdefault("guard", OFF)
    return AgentSettings(data_dir=data_dir, **values)


def entries(
    cards: Sequence[AgentCard], addresses: dict[str, str] | None = None
) -> list[AgentEntry]:
    """Agents-file entries with the cards inline (routing works without Describe)."""
    return [
        AgentEntry(
            name=c.name,
            address=(addresses or {}).get(c.name, f"127.0.0.1:{i}"),
            **c.model_dump(exclude={"name"}),
        )
        for i, c in enumerate(cards, start=1)
    ]


@contextlib.asynccontextmanager
async def supervisor(
    data_dir: Path,
    agents: Sequence[AgentEntry],
    *,
    settings: SupervisorSettings | None = None,
    serve: bool = False,
    **overrides: Any,
) -> AsyncIterator[SupervisorApp]:
    """``build_supervisor`` with ``overrides`` (``embedder=``, ``agent_client=``, ...)."""
    o = SupervisorOverrides(**overrides)
    if o.guard is not None and settings is None:
        settings = supervisor_settings(data_dir, guard=GuardSettings())
    async with build_supervisor(settings or supervisor_settings(data_dir), agents, o) as app:
        if serve:
            await app.serve()
        yield app


@contextlib.asynccontextmanager
async def agent(
    config: AgentConfig,
    data_dir: Path,
    *,
    settings: AgentSettings | None = None,
    serve: bool = False,
    **overrides: Any,
) -> AsyncIterator[AgentApp]:
    """``build_agent`` with ``overrides`` (``vector_store=``, ``llm=``, ``embedder=``, ...)."""
    o = AgentOverrides(**overrides)
    if o.guard is not None and settings is None:
        settings = agent_settings(data_dir, guard=GuardSettings())
    async with build_agent(config, settings or agent_settings(data_dir), o) as app:
        if serve:
            await app.serve()
        yield app


def context(
    app: SupervisorApp,
    *,
    principal: Principal | None = None,
    request_id: str = "",
    session_id: str = "",
    metadata: dict[str, str] | None = None,
    budget: Budget | None = None,
    timeout: float | None = 5.0,
) -> RequestContext:
    return app.service.context(
        principal=principal,
        request_id=request_id,
        session_id=session_id,
        metadata=metadata,
        budget=budget,
        time_remaining=timeout,
    )


async def ask(
    app: SupervisorApp,
    text: str,
    *,
    agent: str = "",
    confirm_action: str = "",
    metadata: dict[str, str] | None = None,
    **ctx: Any,
) -> AskResult:
    """One Ask through the supervisor's service, as its servicer would make it."""
    request_context = context(app, metadata=metadata, **ctx)
    return await app.service.ask(
        request_context,
        AskInput(
            text=text,
            metadata=dict(metadata or {}),
            agent=agent,
            confirm_action=confirm_action,
            idempotent=bool(ctx.get("request_id")),
        ),
    )


def agent_context(**values: Any) -> RequestContext:
    """A request context as an agent's servicer makes it."""
    values.setdefault("request_id", "r1")
    return replace(RequestContext(request_id=values.pop("request_id")), **values)
