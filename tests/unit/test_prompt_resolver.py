"""The agent's prompt resolver without a database: the cache, a slow or hanging registry, the
request's deadline, and the canary's per-session split."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from switchboard.agent.prompt_versions import PromptChoice, PromptResolver, bucket
from switchboard.core.context import Deadline, RequestContext
from switchboard.store import PromptLabel, PromptVersion
from switchboard.store.prompts import Resolved
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 12, 6, tzinfo=UTC)
FILE = PromptChoice("billing@file:00000000", "file prompt", "rules", "m", 700, source="file")


def version(n: int) -> PromptVersion:
    return PromptVersion(
        agent="billing", number=n, system_prompt=f"prompt {n}", rules="rules", model="m",
        params={"max_tokens": 100 * n}, content_hash=str(n) * 64, author="a", note="",
        created_at=NOW,
    )  # fmt: skip


class Registry:
    """resolve() serves ``version``; ``gate`` (when set) holds every read until released."""

    def __init__(self) -> None:
        self.version = 1
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def resolve(self, agent: str, label: str) -> Resolved:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        lb = PromptLabel(
            agent=agent, label=label, version=self.version, canary_version=None,
            canary_percent=0, revision=1, updated_by="a", updated_at=NOW,
        )  # fmt: skip
        return Resolved(lb, version(self.version), None)


def resolver(registry: Registry, clock: FakeClock, **kw: Any) -> PromptResolver:
    return PromptResolver(
        "billing", FILE, registry=registry, label="production",  # type: ignore[arg-type]
        ttl_s=10.0, fetch_timeout_s=1.0, default_max_tokens=700, clock=clock, **kw,
    )  # fmt: skip


def ctx(session: str = "s", seconds: float | None = 30.0) -> RequestContext:
    deadline = Deadline.never() if seconds is None else Deadline.after(seconds)
    return RequestContext(request_id="r", session_id=session, deadline=deadline)


async def test_reads_once_per_ttl_and_applies_the_versions_parameters() -> None:
    registry, clock = Registry(), FakeClock()
    r = resolver(registry, clock)
    first = await r.choose(ctx())
    assert (first.ref, first.max_tokens, first.system_prompt) == ("billing@v1", 100, "prompt 1")
    registry.version = 2
    clock.advance(9.9)
    assert (await r.choose(ctx())).ref == "billing@v1" and registry.reads == 1
    clock.advance(0.2)
    assert (await r.choose(ctx())).ref == "billing@v2" and registry.reads == 2


async def test_requests_do_not_queue_behind_a_slow_read() -> None:
    registry, clock = Registry(), FakeClock()
    r = resolver(registry, clock)
    await r.choose(ctx())
    clock.advance(11)
    registry.version, registry.gate = 2, asyncio.Event()
    reading = asyncio.create_task(r.choose(ctx()))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    assert (await r.choose(ctx())).ref == "billing@v1"  # the cached one, at once
    assert time.monotonic() - started < 0.05
    registry.gate.set()
    assert (await reading).ref == "billing@v2"


async def test_a_hanging_registry_costs_at_most_a_quarter_of_the_deadline() -> None:
    registry, clock = Registry(), FakeClock()
    r = resolver(registry, clock)
    await r.choose(ctx())
    clock.advance(11)
    registry.gate = asyncio.Event()  # never released: the database hangs
    started = time.monotonic()
    assert (await r.choose(ctx(seconds=0.4))).ref == "billing@v1"
    assert time.monotonic() - started < 0.3 and r.fallbacks == 1
    assert (await r.choose(ctx())).ref == "billing@v1" and registry.reads == 2  # no retry yet


def test_the_canary_split_is_fixed_per_session_and_close_to_its_share() -> None:
    keys = [f"session-{i}" for i in range(2000)]
    share = sum(bucket("billing", "production", k) < 10 for k in keys) / len(keys)
    assert 0.08 <= share <= 0.12
    assert [bucket("billing", "production", k) for k in keys[:50]] == [
        bucket("billing", "production", k) for k in keys[:50]
    ]
    # Another agent's or label's split is independent of this one's.
    assert [bucket("support", "production", k) for k in keys[:50]] != [
        bucket("billing", "production", k) for k in keys[:50]
    ]
