"""After-answer work: ordered per key, owned (flushed, settled), and never escaping a task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from switchboard.supervisor.memory.write_behind import WriteBehind


def test_work_of_one_key_runs_in_order_and_flush_waits_for_all() -> None:
    async def main() -> list[str]:
        done: list[str] = []
        after = WriteBehind()

        def step(name: str, delay: float) -> Callable[[], Awaitable[None]]:
            async def work() -> None:
                await asyncio.sleep(delay)
                done.append(name)

            return work

        after.submit(("t", "s1"), step("s1-first", 0.05))
        after.submit(("t", "s1"), step("s1-second", 0.0))
        after.submit(("t", "s2"), step("s2", 0.0))
        await after.flush()
        return done

    done = asyncio.run(main())
    assert done.index("s1-first") < done.index("s1-second")
    assert done[0] == "s2"  # another key does not wait for s1's chain
    assert len(done) == 3


def test_settle_waits_for_its_key_only_within_the_timeout() -> None:
    async def main() -> tuple[bool, bool]:
        release = asyncio.Event()
        after = WriteBehind()

        async def held() -> None:
            await release.wait()

        after.submit(("t", "slow"), held)
        await after.settle(("t", "slow"), timeout=0.05)  # gives up, does not hang
        still_pending = bool(after._pending)
        release.set()
        await after.settle(("t", "slow"), timeout=1.0)
        await after.settle(("t", "unknown"), timeout=1.0)
        return still_pending, bool(after._pending)

    assert asyncio.run(main()) == (True, False)


def test_a_crash_is_logged_and_the_chain_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    counted: list[str] = []

    async def main() -> list[str]:
        done: list[str] = []
        after = WriteBehind()

        async def crash() -> None:
            raise RuntimeError("disk on fire")

        async def later() -> None:
            done.append("later")

        after.submit(("t", "s"), crash, on_crash=lambda exc: counted.append(str(exc)))
        after.submit(("t", "s"), later)
        await after.flush()
        return done

    assert asyncio.run(main()) == ["later"]
    assert "after-answer work crashed" in caplog.text
    assert counted == ["disk on fire"]  # handed to the owner to be counted
