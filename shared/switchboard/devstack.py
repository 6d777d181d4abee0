"""Runs the whole system as local processes: the demo and ``make run``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from switchboard.client import SupervisorClient
from switchboard.v1 import common_pb2

DEMO_QUESTIONS = [
    "I was charged twice for the same month, what should I do?",
    "How long do I have to ask for a refund on an annual plan?",
    "What's the API rate limit per token?",
    "Slack notifications stopped arriving in our channel",
    "How many backup codes do I get when I turn on two-factor authentication?",
    "How do I transfer ownership of our workspace to a colleague?",
    "My payment failed and now I can't log in",  # ambiguous: billing or account?
    "What's a good recipe for banana bread?",  # out of scope
]
START_TIMEOUT_S = 90.0


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    port: int


def agent_configs(agents_dir: Path) -> list[Path]:
    configs = sorted(agents_dir.glob("*/agent.yaml"))
    if not configs:
        raise SystemExit(f"no agent configs (*/agent.yaml) under {agents_dir}")
    return configs


async def _start(name: str, args: list[str], workdir: Path) -> Service:
    ready = workdir / f"{name}.ready.json"
    ready.unlink(missing_ok=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "switchboard.cli",
        *args,
        "--ready-file",
        str(ready),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(workdir / f"{name}.log").open("ab"),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if process.returncode is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {workdir / name}.log")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.05)
    return Service(name, process, int(json.loads(ready.read_text())["port"]))


async def _stop(services: list[Service], grace: float = 15.0) -> list[int]:
    for s in services:
        if s.process.returncode is None:
            s.process.send_signal(signal.SIGTERM)
    codes = []
    for s in services:
        try:
            codes.append(await asyncio.wait_for(s.process.wait(), grace))
        except TimeoutError:
            s.process.kill()
            codes.append(await s.process.wait())
    return codes


@contextlib.asynccontextmanager
async def stack(
    agents_dir: Path, workdir: Path, *, port: int = 0, agent_ports: list[int] | None = None
) -> AsyncIterator[tuple[Service, list[Service]]]:
    """Starts every agent, then a supervisor whose agents file points at them."""
    configs = agent_configs(agents_dir)
    ports = agent_ports or [0] * len(configs)
    services: list[Service] = []
    try:
        agents = await asyncio.gather(
            *(
                _start(
                    f"agent-{c.parent.name}",
                    ["agent", "--config", str(c), "--port", str(p)],
                    workdir,
                )
                for c, p in zip(configs, ports, strict=True)
            )
        )
        services.extend(agents)
        agents_file = workdir / "agents.yaml"
        entries = [
            {"name": c.parent.name, "address": f"127.0.0.1:{a.port}"}
            for c, a in zip(configs, agents, strict=True)
        ]
        agents_file.write_text(yaml.safe_dump({"agents": entries}))
        supervisor = await _start(
            "supervisor", ["supervisor", "--agents", str(agents_file), "--port", str(port)], workdir
        )
        services.append(supervisor)
        yield supervisor, list(agents)
    finally:
        codes = await _stop(services[::-1])
        if any(c not in (0, -signal.SIGTERM) for c in codes):
            print(f"warning: services exited with {codes}; logs in {workdir}", file=sys.stderr)


def _print_answer(question: str, reply: object, elapsed_ms: float) -> None:
    from switchboard.v1 import supervisor_pb2

    assert isinstance(reply, supervisor_pb2.AskResponse)
    status = common_pb2.Status.Name(reply.status)
    print(f"\nQ: {question}")
    print(
        f"   agent={reply.agent or '-'} status={status} confidence={reply.confidence:.2f} "
        f"route={reply.route.method} latency={elapsed_ms:.0f}ms trace_id={reply.trace_id}"
    )
    if reply.status == common_pb2.NEEDS_CLARIFICATION and reply.candidates:
        print("   candidates: " + ", ".join(f"{c.agent} ({c.score:.2f})" for c in reply.candidates))
    for line in reply.answer.splitlines():
        print(f"   | {line}")
    for i, c in enumerate(reply.citations, start=1):
        print(f"   [{i}] {c.title} ({c.source_id}, score {c.score:.2f})")
    u = reply.usage
    print(f"   usage: {u.input_tokens} in / {u.output_tokens} out tokens, ${u.cost_usd:.4f}")


async def run_demo(agents_dir: Path, questions: list[str] | None = None) -> int:
    from switchboard.agent.ingest import ingest_paths

    print("== Ingesting knowledge bases")
    for report in await asyncio.to_thread(ingest_paths, agent_configs(agents_dir)):
        print(f"   {report.summary()}")
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print(
            "== ANTHROPIC_API_KEY is not set: answers come from the offline extractive backend "
            "(status DEGRADED)"
        )
    with tempfile.TemporaryDirectory(prefix="switchboard-demo-") as tmp:
        workdir = Path(tmp)
        print("== Starting three agents and the supervisor on loopback")
        async with stack(agents_dir, workdir) as (supervisor, agents):
            for a in agents:
                print(f"   {a.name} on 127.0.0.1:{a.port}")
            print(f"   supervisor on 127.0.0.1:{supervisor.port}")
            async with SupervisorClient(f"127.0.0.1:{supervisor.port}") as client:
                for question in questions or DEMO_QUESTIONS:
                    started = time.perf_counter()
                    reply = await client.ask(question)
                    _print_answer(question, reply, (time.perf_counter() - started) * 1000)
        print("\n== Stopped all services cleanly")
    return 0


async def run_foreground(agents_dir: Path, port: int, first_agent_port: int) -> int:
    from switchboard.agent.ingest import ingest_paths

    for report in await asyncio.to_thread(ingest_paths, agent_configs(agents_dir)):
        print(report.summary())
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-run-"))
    n = len(agent_configs(agents_dir))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with stack(
        agents_dir,
        workdir,
        port=port,
        agent_ports=list(range(first_agent_port, first_agent_port + n)),
    ) as (supervisor, agents):
        for a in agents:
            print(f"{a.name} on 127.0.0.1:{a.port}")
        print(f"supervisor on 127.0.0.1:{supervisor.port} (logs in {workdir}); Ctrl-C stops")
        await stop.wait()
    return 0
