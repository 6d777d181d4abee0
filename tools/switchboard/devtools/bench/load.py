"""The load generator of ``make bench``: a grpc.aio client built from ``protos/`` alone.

Three shapes of load, each bounded in count and time: one request after another, a fixed
number in flight, and everything at once (a burst). Every call's status is kept, so a run
reports what was answered, what was shed (RESOURCE_EXHAUSTED) and what failed otherwise.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc

from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc

CALL_TIMEOUT_S = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Run:
    """What one load phase saw: latencies of answered calls, status codes, wall time."""

    latencies_ms: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    retry_after: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.codes.values())

    def summary(self) -> dict[str, Any]:
        ok = self.latencies_ms
        return {
            "requests": self.requests,
            "answered": self.codes.get("OK", 0),
            "codes": dict(self.codes),
            "answer_statuses": dict(self.statuses),
            "p50_ms": round(statistics.median(ok), 2) if ok else None,
            "p99_ms": round(percentile(ok, 0.99), 2) if ok else None,
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(self.codes.get("OK", 0) / self.wall_s, 1)
            if self.wall_s
            else 0.0,
            "retry_after_seen": sorted(set(self.retry_after))[:5],
        }


class Loader:
    """One channel to the supervisor; ``ask`` records each call into a :class:`Run`."""

    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = supervisor_pb2_grpc.SupervisorStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def ask(self, run: Run, text: str, *, request_id: str = "") -> None:
        started = time.perf_counter()
        try:
            reply = await self._stub.Ask(
                supervisor_pb2.AskRequest(text=text, request_id=request_id),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            run.codes[exc.code().name] += 1
            trailing = dict(exc.trailing_metadata() or ())
            if "retry-after" in trailing:
                run.retry_after.append(str(trailing["retry-after"]))
            return
        run.latencies_ms.append((time.perf_counter() - started) * 1000)
        run.codes["OK"] += 1
        run.statuses[common_pb2.Status.Name(reply.status)] += 1

    async def sequential(self, texts: list[str], n: int) -> Run:
        run = Run()
        started = time.perf_counter()
        for i in range(n):
            await self.ask(run, texts[i % len(texts)])
        run.wall_s = time.perf_counter() - started
        return run

    async def in_flight(self, texts: list[str], n: int, concurrency: int) -> Run:
        """``n`` requests with ``concurrency`` of them outstanding at any time."""
        run = Run()
        queue = iter(range(n))

        async def worker() -> None:
            for i in queue:
                await self.ask(run, texts[i % len(texts)])

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
        run.wall_s = time.perf_counter() - started
        return run

    async def burst(self, texts: list[str], n: int, *, request_ids: bool = False) -> Run:
        """``n`` requests sent at once (each with a fresh request id when ``request_ids``)."""
        run = Run()
        prefix = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for i in range(n):
                rid = f"bench-{prefix}-{i}" if request_ids else ""
                group.create_task(self.ask(run, texts[i % len(texts)], request_id=rid))
        run.wall_s = time.perf_counter() - started
        return run
