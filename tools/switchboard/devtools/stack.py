"""Runs the whole system as local processes: for ``make demo``, ``make run`` and the tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml

from switchboard.client import SupervisorClient
from switchboard.devtools.demo_conversation import demo_conversation
from switchboard.devtools.otlp_receiver import OtlpReceiver
from switchboard.devtools.settings import ToolSettings
from switchboard.devtools.stream_print import print_stream
from switchboard.devtools.waterfall import render, wait_for_trace
from switchboard.v1 import common_pb2, review_pb2, review_pb2_grpc, supervisor_pb2

DEMO_QUESTIONS = [
    "I was charged twice for the same month, what should I do?",
    "How long do I have to ask for a refund on an annual plan?",
    "What's the API rate limit per token?",
    "Slack notifications stopped arriving in our channel",
    "How many backup codes do I get when I turn on two-factor authentication?",
    "How do I transfer ownership of our workspace to a colleague?",
    "How much does SSO cost?",  # ambiguous: billing (prices) or account (SSO)?
    "What's a good recipe for banana bread?",  # out of scope
    "Please refund my last invoice and turn on two-factor login for me",  # compound: 2 agents
]
#: The demo's last request: in support's domain, not in its documents, so it is escalated
#: to a person, who answers it through the Review service.
DEMO_ESCALATION = ("support", "Do you have a Mastodon integration?")
DEMO_HUMAN_ANSWER = (
    "Not yet: Brightlane has no Mastodon integration today. Our outgoing webhooks can post "
    "board updates to any service that accepts them, and I've passed your request on to the "
    "product team. - Sam, Brightlane support"
)
START_TIMEOUT_S = 90.0
SERVICE_TOKEN_ENV = "SWITCHBOARD_SERVICE_TOKEN"


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def agent_configs(agents_dir: Path) -> list[Path]:
    configs = sorted(agents_dir.glob("*/agent.yaml"))
    if not configs:
        raise SystemExit(f"no agent configs (*/agent.yaml) under {agents_dir}")
    return configs


def launch(
    name: str,
    args: list[str],
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Service:
    """Starts ``switchboard ARGS`` and waits until it reports its bound port."""
    ready = workdir / f"{name}.ready.json"
    ready.unlink(missing_ok=True)
    log = workdir / f"{name}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli.main", *args, "--ready-file", str(ready)],
            stdout=sink,
            stderr=sink,
            env=dict(env) if env is not None else None,
            # Its own session: a Ctrl-C in the terminal reaches this process only, which
            # then stops the services in order (the supervisor drains before the agents go).
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"{name} exited with {process.returncode}; end of {log}:\n{tail}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start within {timeout:.0f}s; see {log}")
        time.sleep(0.05)
    return Service(name, process, int(json.loads(ready.read_text())["port"]), log)


def terminate(services: list[Service], grace: float = 15.0) -> list[int]:
    """SIGTERM to all of them at once, then wait for clean exits (SIGKILL after ``grace``)."""
    for s in services:
        if s.process.poll() is None:
            s.process.send_signal(signal.SIGTERM)
    codes = []
    for s in services:
        try:
            codes.append(s.process.wait(grace))
        except subprocess.TimeoutExpired:
            s.process.kill()
            codes.append(s.process.wait())
    return codes


def write_agents_file(path: Path, agents: Mapping[str, str]) -> Path:
    path.write_text(
        yaml.safe_dump({"agents": [{"name": n, "address": a} for n, a in agents.items()]})
    )
    return path


def with_service_token(env: Mapping[str, str] | None) -> dict[str, str]:
    """``env`` (default: this process's) plus a fresh random service secret, unless it sets one.

    So a local stack's agents accept only its own supervisor. An explicitly empty
    ``SWITCHBOARD_SERVICE_TOKEN`` is kept: the agents then run open.
    """
    merged = dict(os.environ if env is None else env)
    merged.setdefault(SERVICE_TOKEN_ENV, secrets.token_hex(32))
    return merged


@contextlib.contextmanager
def stack(
    configs: list[Path],
    workdir: Path,
    *,
    port: int = 0,
    agent_ports: list[int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[Service, list[Service]]]:
    """Starts every agent, then a supervisor whose agents file points at them.

    Every process gets the same service secret (:func:`with_service_token`).
    """
    env = with_service_token(env)
    ports = agent_ports or [0] * len(configs)
    services: list[Service] = []
    try:
        for config, p in zip(configs, ports, strict=True):
            name = config.parent.name
            services.append(
                launch(
                    f"agent-{name}",
                    ["agent", "--config", str(config), "--port", str(p)],
                    workdir,
                    env=env,
                )
            )
        agents = list(services)
        agents_file = write_agents_file(
            workdir / "agents.yaml",
            {c.parent.name: a.address for c, a in zip(configs, agents, strict=True)},
        )
        supervisor = launch(
            "supervisor",
            ["supervisor", "--agents", str(agents_file), "--port", str(port)],
            workdir,
            env=env,
        )
        services.append(supervisor)
        yield supervisor, agents
    finally:
        codes = stop_in_order(services)
        if any(c != 0 for c in codes.values()):
            print(f"warning: services exited with {codes}; logs in {workdir}", file=sys.stderr)


def stop_in_order(services: list[Service], *, report: bool = False) -> dict[str, int]:
    """Stops the supervisor first and lets it drain (its in-flight requests still reach the
    agents), then the agents. Returns each service's exit code."""
    front = [s for s in services if s.name == "supervisor"]
    back = [s for s in services if s.name != "supervisor"]
    codes: dict[str, int] = {}
    for group in (front, back):
        started = time.monotonic()
        for service, code in zip(group, terminate(group), strict=True):
            codes[service.name] = code
            if report:
                how = "cleanly" if code == 0 else f"with exit code {code}"
                print(
                    f"stopped {service.name} (pid {service.process.pid}) {how} after "
                    f"{time.monotonic() - started:.1f} s"
                )
    return codes


def format_answer(question: str, reply: supervisor_pb2.AskResponse, elapsed_ms: float) -> str:
    status = common_pb2.Status.Name(reply.status)
    by = f" answered_by={reply.answered_by.kind}:{reply.answered_by.name}" * bool(
        reply.answered_by.kind
    )
    lines = [
        f"Q: {question}",
        f"   agent={reply.agent or '-'} status={status} confidence={reply.confidence:.2f} "
        f"route={reply.route.method} latency={elapsed_ms:.0f}ms trace_id={reply.trace_id}{by}",
    ]
    if reply.status == common_pb2.NEEDS_CLARIFICATION and reply.candidates:
        lines.append(
            "   candidates: " + ", ".join(f"{c.agent} ({c.score:.2f})" for c in reply.candidates)
        )
    if reply.parts:
        lines.append(f"   compound request: {len(reply.parts)} parts, asked in parallel")
        lines.extend(
            f"   part {i}: {p.agent} {common_pb2.Status.Name(p.status)} "
            f"confidence={p.confidence:.2f} sources={len(p.citations)} <- {p.text!r}"
            for i, p in enumerate(reply.parts, start=1)
        )
    lines.extend(f"   | {line}" for line in reply.answer.splitlines())
    lines.extend(
        f"   [{i}] {c.title} ({c.source_id}, score {c.score:.2f})"
        for i, c in enumerate(reply.citations, start=1)
    )
    u = reply.usage
    lines.append(f"   usage: {u.input_tokens} in / {u.output_tokens} out tokens, ${u.cost_usd:.4f}")
    if len(u.breakdown) > 1:
        lines.append(
            "   usage by agent: "
            + ", ".join(
                f"{b.agent} {b.input_tokens}/{b.output_tokens} ${b.cost_usd:.4f}"
                for b in u.breakdown
            )
        )
    return "\n".join(lines)


async def _ask_all(address: str, questions: list[str], receiver: OtlpReceiver | None) -> None:
    token = ToolSettings().token  # SWITCHBOARD_TOKEN, for a stack run with auth tokens
    async with SupervisorClient(
        address, token=token.get_secret_value() if token is not None else None
    ) as client:
        for number, question in enumerate(questions):
            if number == 0:  # the first answer streams, as it is written (AskStream)
                print(f"\nQ: {question}   (streamed)")
                streamed = await print_stream(client.ask_stream(question))
                if streamed is None:
                    continue
                reply = streamed
            else:
                started = time.perf_counter()
                reply = await client.ask(question)
                print("\n" + format_answer(question, reply, (time.perf_counter() - started) * 1000))
            if receiver is not None:
                spans = await asyncio.to_thread(wait_for_trace, receiver, reply.trace_id)
                print(render(spans))


async def _human_loop(address: str) -> None:
    """One escalation, resolved by a person through the Review service, as the caller sees
    it: Ask -> ESCALATED; the reviewer answers; GetResult -> ANSWERED by a human."""
    settings = ToolSettings()
    token = settings.token.get_secret_value() if settings.token else None
    reviewer = settings.reviewer_token.get_secret_value() if settings.reviewer_token else None
    agent, question = DEMO_ESCALATION
    print("\n== The human loop: an escalation a person resolves in the Review service")
    async with SupervisorClient(address, token=token) as client:
        started = time.perf_counter()
        reply = await client.ask(question, agent=agent, request_id=f"demo-{secrets.token_hex(4)}")
        print(format_answer(question, reply, (time.perf_counter() - started) * 1000))
        if reply.status != common_pb2.ESCALATED:
            print("   (not escalated this time: nothing for a person to do)")
            return
        print(f"   review item {reply.review.item_id} opened ({reply.review.reason})")
        auth = [("authorization", f"Bearer {reviewer}")] if reviewer else []
        async with grpc.aio.insecure_channel(address) as channel:
            desk = review_pb2_grpc.ReviewStub(channel)
            await desk.ClaimItem(
                review_pb2.ClaimItemRequest(id=reply.review.item_id), metadata=auth, timeout=10
            )
            await desk.ResolveItem(
                review_pb2.ResolveItemRequest(
                    id=reply.review.item_id,
                    answer=review_pb2.WrittenAnswer(text=DEMO_HUMAN_ANSWER),
                ),
                metadata=auth,
                timeout=10,
            )
        print("   a reviewer answered it in the Review service; the caller asks GetResult:")
        started = time.perf_counter()
        result = await client.get_result(reply.request_id)
        print(format_answer(question, result, (time.perf_counter() - started) * 1000))


def _ingest(configs: list[Path]) -> None:
    from switchboard.agent.knowledge.ingest import ingest_paths
    from switchboard.agent.settings import AgentSettings
    from switchboard.core.embeddings import MiniLMEmbedder

    for report in ingest_paths(configs, AgentSettings(), MiniLMEmbedder()):
        print(f"   {report.summary()}")


def run_demo(agents_dir: Path, questions: list[str] | None = None) -> int:
    configs = agent_configs(agents_dir)
    print("== Ingesting knowledge bases")
    _ingest(configs)
    if not os.environ.get("ANTHROPIC_API_KEY"):
        print(
            "== ANTHROPIC_API_KEY is not set: answers come from the offline extractive "
            "backend (status DEGRADED)"
        )
    env = dict(os.environ)
    receiver: OtlpReceiver | None = None
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
        print(f"== Traces go to {env['OTEL_EXPORTER_OTLP_ENDPOINT']} (no waterfall here)")
    else:
        # Collect every process's spans here, to print each request's trace as a waterfall.
        receiver = OtlpReceiver()
        receiver.start()
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100")
    try:
        with tempfile.TemporaryDirectory(prefix="switchboard-demo-") as tmp:
            print("== Starting the agents and the supervisor as separate processes on loopback")
            with stack(configs, Path(tmp), env=env) as (supervisor, agents):
                for a in [*agents, supervisor]:
                    print(f"   {a.name} on {a.address} (pid {a.process.pid})")
                asyncio.run(_ask_all(supervisor.address, questions or DEMO_QUESTIONS, receiver))
                asyncio.run(_human_loop(supervisor.address))
                token = ToolSettings().token
                asyncio.run(
                    demo_conversation(
                        supervisor.address, token.get_secret_value() if token else None
                    )
                )
                print("\n== Stopping all services")
            print("== All services stopped cleanly")
    finally:
        if receiver is not None:
            receiver.stop()
    return 0


def run_foreground(
    agents_dir: Path, port: int, first_agent_port: int, *, console_port: int = 8080
) -> int:
    """``make run``: the stack in the foreground until Ctrl-C or SIGTERM, then an orderly stop
    (the supervisor drains its in-flight requests before the agents stop) and a clean-up of
    the temporary folder (kept, with its logs, when a service did not exit cleanly).
    ``first_agent_port`` 0 picks free ports. The review console listens on ``console_port``
    (0: a free port)."""
    configs = agent_configs(agents_dir)
    _ingest(configs)
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-run-"))
    ports = (
        [0] * len(configs)
        if first_agent_port == 0
        else list(range(first_agent_port, first_agent_port + len(configs)))
    )
    stop = threading.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum))
        stop.set()

    # Handlers (not a blocked mask, which the services would inherit) set before anything
    # starts, so a signal during start-up still stops everything in order.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    clean = False
    try:
        with _services(configs, workdir, port, ports, console_port) as services:
            if not stop.is_set():
                for s in services:
                    print(f"{s.name} on {s.address}", flush=True)
                print(f"logs in {workdir}; Ctrl-C stops everything", flush=True)
            while not stop.wait(0.5):
                pass
            print(
                f"received {received[0].name}: stopping the supervisor first, then the agents",
                flush=True,
            )
            codes = stop_in_order(services, report=True)
            clean = all(c == 0 for c in codes.values())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if clean:
            shutil.rmtree(workdir, ignore_errors=True)
            print(f"removed {workdir}", flush=True)
        else:
            print(f"kept {workdir} (logs of the services that did not stop cleanly)", flush=True)
    return 0 if clean else 1


@contextlib.contextmanager
def _services(
    configs: list[Path], workdir: Path, port: int, ports: list[int], console_port: int
) -> Iterator[list[Service]]:
    with stack(configs, workdir, port=port, agent_ports=ports) as (supervisor, agents):
        console = launch(
            "console",
            ["console", "--supervisor", supervisor.address, "--port", str(console_port)],
            workdir,
        )
        try:
            yield [*agents, supervisor, console]
        finally:
            terminate([console])
