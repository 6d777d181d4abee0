"""Streaming figures (issue 16), side by side in one run against one fake Messages API.

* Time to first token: the anthropic SDK streaming from the fake directly, against AskStream
  through the supervisor and an agent (their SDK streaming from the same fake). Both are
  timed from the call's start, and also from the moment the fake wrote its first token (the
  fake stamps it with ``time.monotonic()``, one clock for every process of the machine): the
  difference of the latter is what relaying through two services adds, the former includes
  the pipeline's work before the model is called (embedding, screening, routing, retrieval).
* 200 concurrent AskStreams over a fake that writes 50 tokens 20 ms apart: all complete?
  p50 and p99 time to first token, wall time, the supervisor's RSS before and after.

The stack runs with admission control sized for 200 concurrent streams (a stream holds its
slot until it ends: ``SWITCHBOARD_MAX_IN_FLIGHT``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import grpc

from switchboard.devtools.bench.load import percentile
from switchboard.devtools.bench.procs import FakeModel, rss_mb
from switchboard.devtools.stack import Service
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc

TTFT_ROUNDS = 100
CONCURRENT = 200
TOKENS = 50
TOKEN_DELAY_S = 0.02
#: Admission sized for the concurrent phase (each stream holds a slot while it runs).
STREAM_ENV = {"SWITCHBOARD_MAX_IN_FLIGHT": "512", "SWITCHBOARD_MAX_QUEUE": "512"}


def _configure(model: FakeModel, **values: float) -> None:
    model._post("/_fake/config", dict(values))


def _first_tokens(model: FakeModel) -> list[float | None]:
    with urllib.request.urlopen(model.base_url + "/_fake/streams", timeout=5) as reply:
        return [s["first_token"] for s in json.loads(reply.read())["streams"]]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
    }


async def _direct(model: FakeModel, rounds: int) -> tuple[list[float], list[float]]:
    """SDK -> fake: seconds to the first text from the call, and from the fake's write."""
    client = anthropic.AsyncAnthropic(api_key="bench", base_url=model.base_url, max_retries=0)
    from_call: list[float] = []
    arrivals: list[float] = []
    try:
        for _ in range(rounds):
            started = time.monotonic()
            async with client.messages.stream(
                model="claude-bench",
                max_tokens=256,
                messages=[{"role": "user", "content": "hello"}],
            ) as stream:
                first = None
                async for event in stream:
                    if event.type == "text" and first is None:
                        first = time.monotonic()
                from_call.append((first or started) - started)
                arrivals.append(first or started)
    finally:
        await client.close()
    return from_call, arrivals


async def _ask_stream(
    stub: supervisor_pb2_grpc.SupervisorStub, text: str, auth: list[tuple[str, str]]
) -> tuple[float | None, float, bool]:
    """One AskStream: (monotonic time of the first text, start, finished with a final)."""
    started = time.monotonic()
    first = None
    final = False
    async for event in stub.AskStream(
        supervisor_pb2.AskRequest(text=text), metadata=auth, timeout=60
    ):
        kind = event.WhichOneof("event")
        if kind == "text" and first is None:
            first = time.monotonic()
        final = final or kind == "final"
    return first, started, final


def _offsets(arrivals: list[float], written: list[float | None]) -> list[float]:
    return [a - w for a, w in zip(arrivals, written, strict=False) if w is not None]


async def streaming_figures(
    supervisor: Service, model: FakeModel, texts: list[str], auth: list[tuple[str, str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _configure(model, token_delay_s=0.0, reply_words=TOKENS, delay_s=0.0)
    async with grpc.aio.insecure_channel(supervisor.address) as channel:
        stub = supervisor_pb2_grpc.SupervisorStub(channel)
        for text in texts[:6]:  # warm-up: channels, caches
            await _ask_stream(stub, text, auth)
        await _direct(model, 5)
        seen = len(_first_tokens(model))
        direct, direct_arrivals = await _direct(model, TTFT_ROUNDS)
        direct_written = _first_tokens(model)[seen:]
        seen += len(direct_written)
        through: list[float] = []
        through_arrivals: list[float] = []
        for i in range(TTFT_ROUNDS):
            first, started, _ = await _ask_stream(stub, texts[i % len(texts)], auth)
            if first is not None:
                through.append(first - started)
                through_arrivals.append(first)
        through_written = _first_tokens(model)[seen:]
        direct_relay = _offsets(direct_arrivals, direct_written)
        stack_relay = _offsets(through_arrivals, through_written)
        out["ttft_direct"] = _stats(direct)
        out["ttft_through_supervisor_and_agent"] = _stats(through)
        out["first_token_write_to_arrival_direct"] = _stats(direct_relay)
        out["first_token_write_to_arrival_through_stack"] = _stats(stack_relay)
        added = (
            round((statistics.median(stack_relay) - statistics.median(direct_relay)) * 1000, 2)
            if stack_relay and direct_relay
            else None
        )
        out["relay_added_p50_ms"] = added
        print(
            f"  TTFT direct p50 {out['ttft_direct']['p50_ms']} ms; through supervisor+agent "
            f"p50 {out['ttft_through_supervisor_and_agent']['p50_ms']} ms (pipeline included); "
            f"relaying adds p50 {added} ms after the model's first token"
        )

        _configure(model, token_delay_s=TOKEN_DELAY_S, reply_words=TOKENS)
        rss_before = rss_mb(supervisor.process.pid)
        started = time.monotonic()
        results = await asyncio.gather(
            *(_ask_stream(stub, texts[i % len(texts)], auth) for i in range(CONCURRENT)),
            return_exceptions=True,
        )
        wall = time.monotonic() - started
        rss_after = rss_mb(supervisor.process.pid)
        done = [r for r in results if isinstance(r, tuple) and r[2]]
        ttfts = [r[0] - r[1] for r in done if r[0] is not None]
        errors = [type(r).__name__ for r in results if isinstance(r, BaseException)]
        s = _stats(ttfts)
        out["concurrent_200"] = {
            "streams": CONCURRENT,
            "completed": len(done),
            "errors": errors[:5],
            "ttft": s,
            "p99_over_p50": round(s["p99_ms"] / s["p50_ms"], 2)
            if s["p50_ms"] and s["p99_ms"]
            else None,
            "wall_s": round(wall, 2),
            "supervisor_rss_mb": {"before": rss_before, "after": rss_after},
        }
        print(
            f"  200 concurrent streams x {TOKENS} tokens {TOKEN_DELAY_S * 1000:.0f} ms apart: "
            f"{len(done)}/{CONCURRENT} complete, TTFT p50 {s['p50_ms']} ms p99 {s['p99_ms']} ms, "
            f"wall {wall:.1f} s, supervisor RSS {rss_before} -> {rss_after} MB"
        )
        _configure(model, token_delay_s=0.0, reply_words=0)
    return out


def streaming_report(agents_dir: Path) -> dict[str, Any]:
    """Starts a fake Messages API and a Claude-path stack sized for streams, and measures."""
    from switchboard.devtools.bench.procs import fake_model
    from switchboard.devtools.bench.system import _base_env, micro_ingest, questions
    from switchboard.devtools.stack import agent_configs, stack

    texts = questions(agents_dir)
    configs = agent_configs(agents_dir)
    micro_ingest(configs)  # the agents read their embedded stores (idempotent)
    print("== Streaming (the SDK streaming from a fake Messages API over loopback)")
    with (
        tempfile.TemporaryDirectory(prefix="sb-bench-stream-") as tmp,
        fake_model(Path(tmp)) as model,
    ):
        env = {
            **_base_env(),
            **STREAM_ENV,
            "ANTHROPIC_API_KEY": "bench-key",
            "ANTHROPIC_BASE_URL": model.base_url,
        }
        with stack(configs, Path(tmp), env=env) as (supervisor, _agents):
            return asyncio.run(streaming_figures(supervisor, model, texts, []))
