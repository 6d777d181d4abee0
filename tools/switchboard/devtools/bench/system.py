"""The issue-12 table: the Claude path and the offline path under load, and the 300 burst.

Each phase is bounded in count; every figure comes from the same run. CPU milliseconds per
request per service are read from ``/proc`` around the 64-in-flight phases, RSS after them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from switchboard.devtools.bench.load import Loader, Run
from switchboard.devtools.bench.procs import CpuMeter, FakeModel, fake_model
from switchboard.devtools.stack import (
    Service,
    agent_configs,
    launch,
    stack,
    terminate,
    with_service_token,
)

FACTS = Path("tests/data/facts")  # labelled questions of the repository, run from its root
PER_AGENT = 4
SEQUENTIAL = 200
IN_FLIGHT = 64
IN_FLIGHT_REQUESTS = 1280
AT_ONCE = 200
SLOW_MODEL_S = 0.2
OFFLINE_SEQUENTIAL = 150
OFFLINE_IN_FLIGHT_REQUESTS = 960
BURST = 300
SWEEP = (4, 16, 64, 128)
SWEEP_REQUESTS = 256
ADMIN_PG_URL = os.environ.get(
    "SWITCHBOARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def questions(agents_dir: Path) -> list[str]:
    """12 realistic questions, four per agent, interleaved across the agents."""
    per: list[list[str]] = []
    for config in agent_configs(agents_dir):
        facts = FACTS / f"{config.parent.name}.yaml"
        if facts.is_file():
            items = yaml.safe_load(facts.read_text(encoding="utf-8"))
            per.append([f["question"] for f in items[:PER_AGENT]])
    if not per:
        raise SystemExit(f"no labelled questions under {FACTS}; run from the repository root")
    return [q for group in zip(*per, strict=False) for q in group]


def _base_env() -> dict[str, str]:
    drop = ("OTEL_", "ANTHROPIC_", "SWITCHBOARD_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return with_service_token(env)


def _line(label: str, run: Run) -> dict[str, Any]:
    s = run.summary()
    p50 = f"{s['p50_ms']:8.1f}" if s["p50_ms"] is not None else "       -"
    p99 = f"{s['p99_ms']:8.1f}" if s["p99_ms"] is not None else "       -"
    print(
        f"  {label:<44} p50 {p50} ms  p99 {p99} ms  {s['throughput_rps']:7.1f} req/s  "
        f"wall {s['wall_s']:6.2f} s  {s['codes']}"
    )
    return s


async def _claude_phases(
    address: str, texts: list[str], model: FakeModel, cpu: CpuMeter
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    loader = Loader(address)
    try:
        await loader.sequential(texts, 2 * len(texts))  # warm-up: channels, caches
        before = model.stats()
        run = await loader.sequential(texts, SEQUENTIAL)
        after = model.stats()
        out["sequential"] = _line("Claude path, sequential", run)
        calls = after["messages"] - before["messages"]
        out["model_calls_per_request"] = round(calls / max(run.requests, 1), 3)
        out["prompt_tokens_per_request"] = round(
            (after["input_tokens"] - before["input_tokens"]) / max(run.requests, 1), 1
        )
        print(
            f"  model calls per request {out['model_calls_per_request']:.2f}, prompt tokens "
            f"per request {out['prompt_tokens_per_request']:.0f} (answer statuses "
            f"{dict(run.statuses)})"
        )
        cpu.start()
        run = await loader.in_flight(texts, IN_FLIGHT_REQUESTS, IN_FLIGHT)
        out["cpu_ms_per_request"] = cpu.per_request(run.codes.get("OK", 0))
        out["in_flight_64"] = _line("Claude path, 64 in flight", run)
        print(f"  CPU ms per request: {out['cpu_ms_per_request']}")
        out["rss_mb"] = cpu.rss()
        out["concurrency_sweep"] = await _sweep(loader, texts)
        await asyncio.to_thread(model.set_delay, SLOW_MODEL_S)
        try:
            await loader.burst(texts, 8)  # warm the slow path's connections
            run = await loader.burst(texts, AT_ONCE)
        finally:
            await asyncio.to_thread(model.set_delay, 0.0)
        out["at_once_200_slow_model"] = _line("Claude path, 200 at once, model 200 ms", run)
    finally:
        await loader.close()
    return out


async def _sweep(loader: Loader, texts: list[str]) -> dict[str, Any]:
    """Throughput and p99 by requests in flight: where more concurrency stops paying (the
    measurement behind the admission-control default)."""
    out: dict[str, Any] = {}
    for level in SWEEP:
        run = await loader.in_flight(texts, SWEEP_REQUESTS, level)
        s = run.summary()
        out[str(level)] = {k: s[k] for k in ("throughput_rps", "p50_ms", "p99_ms")}
    print(
        "  in flight -> req/s (p99 ms): "
        + ", ".join(f"{k} -> {v['throughput_rps']} ({v['p99_ms']})" for k, v in out.items())
    )
    return out


async def _offline_phases(address: str, texts: list[str], cpu: CpuMeter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    loader = Loader(address)
    try:
        await loader.sequential(texts, 2 * len(texts))
        run = await loader.sequential(texts, OFFLINE_SEQUENTIAL)
        out["sequential"] = _line("offline, sequential", run)
        cpu.start()
        run = await loader.in_flight(texts, OFFLINE_IN_FLIGHT_REQUESTS, IN_FLIGHT)
        out["cpu_ms_per_request"] = cpu.per_request(run.codes.get("OK", 0))
        out["in_flight_64"] = _line("offline, 64 in flight", run)
        print(f"  CPU ms per request: {out['cpu_ms_per_request']}")
        out["rss_mb"] = cpu.rss()
    finally:
        await loader.close()
    return out


async def _burst(address: str, texts: list[str], label: str) -> dict[str, Any]:
    loader = Loader(address)
    try:
        await loader.sequential(texts, len(texts))
        run = await loader.burst(texts, BURST, request_ids=True)
    finally:
        await loader.close()
    summary = _line(label, run)
    summary["refused_unavailable"] = run.codes.get("UNAVAILABLE", 0)
    summary["shed_resource_exhausted"] = run.codes.get("RESOURCE_EXHAUSTED", 0)
    return summary


async def _admin(sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from switchboard.store import normalise_url

    engine = create_async_engine(normalise_url(ADMIN_PG_URL), isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(10), engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for the burst, dropped afterwards (None: no server)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    name = f"switchboard_bench_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        print(f"  (PostgreSQL not reachable for the burst: {type(exc).__name__})")
        yield None
        return
    try:
        yield make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def system_figures(agents_dir: Path) -> dict[str, Any]:
    """Every figure of the issue's table, from one run."""
    texts = questions(agents_dir)
    configs = agent_configs(agents_dir)
    micro_ingest(configs)
    report: dict[str, Any] = {"questions": len(texts)}
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp, fake_model(Path(tmp)) as model:
        claude_dir, offline_dir = Path(tmp) / "claude", Path(tmp) / "offline"
        claude_dir.mkdir()
        offline_dir.mkdir()
        env = _base_env()
        claude_env = {**env, "ANTHROPIC_API_KEY": "bench-key", "ANTHROPIC_BASE_URL": model.base_url}
        print("== Claude path (fake Messages API over loopback)")
        with stack(configs, claude_dir, env=claude_env) as (supervisor, agents):
            services: list[Service] = [supervisor, *agents]
            report["claude"] = asyncio.run(
                _claude_phases(supervisor.address, texts, model, CpuMeter(services))
            )
            print("== 300 concurrent Asks with request ids")
            report["burst_300"] = {
                "sqlite": asyncio.run(_burst(supervisor.address, texts, "300 burst, SQLite"))
            }
            with _postgres_database() as pg_url:
                if pg_url is not None:
                    pg = launch(
                        "supervisor-pg",
                        ["supervisor", "--agents", str(claude_dir / "agents.yaml"), "--port", "0"],
                        claude_dir,
                        env={**claude_env, "DATABASE_URL": pg_url},
                    )
                    try:
                        report["burst_300"]["postgresql"] = asyncio.run(
                            _burst(pg.address, texts, "300 burst, PostgreSQL")
                        )
                    finally:
                        terminate([pg])
        print("== Offline path (no API key)")
        with stack(configs, offline_dir, env=env) as (supervisor, agents):
            report["offline"] = asyncio.run(
                _offline_phases(supervisor.address, texts, CpuMeter([supervisor, *agents]))
            )
    return {"system": report}


def micro_ingest(configs: list[Path]) -> None:
    """The stacks read the agents' embedded stores: ingest them first (idempotent)."""
    from switchboard.agent.knowledge.ingest import ingest_paths
    from switchboard.agent.settings import AgentSettings
    from switchboard.core.embeddings import MiniLMEmbedder

    ingest_paths(configs, AgentSettings(), MiniLMEmbedder())
