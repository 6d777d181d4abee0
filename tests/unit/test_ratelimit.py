"""Per-tenant token buckets, in-process and in Redis (127.0.0.1:6379, skipped when absent)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from switchboard.core.errors import ResourceExhausted
from switchboard.core.ratelimit import (
    Limit,
    LocalRateLimiter,
    RedisRateLimiter,
    build_rate_limiter,
)
from switchboard.core.settings import LimitSettings

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(Limit(rate_per_s=2.0, burst=3), clock=clock)
    for _ in range(3):
        limiter.take("acme")
    with pytest.raises(ResourceExhausted) as info:
        limiter.take("acme")
    assert info.value.retry_after_s == pytest.approx(0.5)
    assert "acme" in info.value.message and "retry after 0.500 s" in info.value.message
    clock.now += 0.5  # one token back
    limiter.take("acme")
    with pytest.raises(ResourceExhausted):
        limiter.take("acme")
    clock.now += 100  # never more than the burst
    for _ in range(3):
        limiter.take("acme")
    with pytest.raises(ResourceExhausted):
        limiter.take("acme")


def test_tenants_have_their_own_buckets() -> None:
    limiter = LocalRateLimiter(Limit(rate_per_s=1.0, burst=1), clock=Clock())
    limiter.take("noisy")
    with pytest.raises(ResourceExhausted):
        limiter.take("noisy")
    limiter.take("quiet")


def test_refusals_do_not_use_up_tokens() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(Limit(rate_per_s=1.0, burst=1), clock=clock)
    limiter.take("acme")
    for _ in range(50):
        with pytest.raises(ResourceExhausted):
            limiter.take("acme")
    clock.now += 1.0
    limiter.take("acme")


def test_forgets_least_recently_used_tenants_past_the_cap() -> None:
    limiter = LocalRateLimiter(Limit(rate_per_s=1.0, burst=1), clock=Clock(), max_keys=2)
    limiter.take("a")
    limiter.take("b")
    limiter.take("c")  # "a" is forgotten: a fresh (full) bucket next time
    limiter.take("a")
    with pytest.raises(ResourceExhausted):
        limiter.take("c")


def test_settings_choose_the_limiter() -> None:
    assert build_rate_limiter(LimitSettings()) is None  # off by default
    local = build_rate_limiter(LimitSettings(rate_limit_per_s=2.5))
    assert isinstance(local, LocalRateLimiter) and local.limit == Limit(2.5, 3)
    assert Limit.from_settings(LimitSettings(rate_limit_per_s=0.2)).burst == 1
    redis_backed = build_rate_limiter(
        LimitSettings(rate_limit_per_s=5, rate_limit_burst=9, redis_url=SecretStr(REDIS_URL))
    )
    assert isinstance(redis_backed, RedisRateLimiter) and redis_backed.limit == Limit(5, 9)


# -- Redis -----------------------------------------------------------------------------------


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_reachable(), reason="no Redis at 127.0.0.1:6379; Redis rate-limit tests skipped"
)


@pytest.fixture
async def redis_limiter() -> AsyncIterator[RedisRateLimiter]:
    limiter = RedisRateLimiter(
        REDIS_URL,
        Limit(rate_per_s=0.5, burst=3),
        timeout_s=2.0,  # generous: the machine is shared
        prefix=f"switchboard-test:{uuid.uuid4().hex}:",
    )
    yield limiter
    await limiter.close()


@needs_redis
async def test_redis_bucket_per_tenant(redis_limiter: RedisRateLimiter) -> None:
    for _ in range(3):
        await redis_limiter.acquire("noisy")
    with pytest.raises(ResourceExhausted) as info:
        await redis_limiter.acquire("noisy")
    # 0.5/s: the next token is at most 2 s away
    assert info.value.retry_after_s is not None and 0 < info.value.retry_after_s <= 2.0
    await redis_limiter.acquire("quiet")
    assert redis_limiter.failures == 0


@needs_redis
async def test_redis_bucket_is_shared_and_atomic(redis_limiter: RedisRateLimiter) -> None:
    """Two limiters (two replicas) racing on one bucket admit exactly the burst."""
    other = RedisRateLimiter(
        REDIS_URL, redis_limiter.limit, timeout_s=2.0, prefix=redis_limiter._prefix
    )
    try:
        results = await asyncio.gather(
            *(lim.acquire("shared") for lim in [redis_limiter, other] * 10),
            return_exceptions=True,
        )
    finally:
        await other.close()
    admitted = [r for r in results if r is None]
    refused = [r for r in results if isinstance(r, ResourceExhausted)]
    assert len(admitted) == 3 and len(refused) == 17


async def test_redis_down_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", Limit(1.0, 1), timeout_s=0.5)
    try:
        for _ in range(5):
            await limiter.acquire("acme")  # over the limit, but let through
    finally:
        await limiter.close()
    assert limiter.failures == 5
    warnings = [r for r in caplog.records if "rate limiting is off" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per request
