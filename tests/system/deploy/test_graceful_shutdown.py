"""SIGTERM during in-flight requests loses none of them (what Kubernetes does on rollout).

Real processes (``switchboard agent`` / ``switchboard supervisor``), a fake Anthropic API
whose replies are delayed so that requests are provably in flight when the signal lands.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from switchboard.devtools.stack import Service, launch, terminate, write_agents_file
from switchboard.v1 import agent_pb2, agent_pb2_grpc, supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.system.deploy.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BILLING = ROOT / "agents" / "billing" / "agent.yaml"
IN_FLIGHT = 6
LLM_DELAY_S = 2.0
QUESTION = "Where do I download last month's invoice?"


@pytest.fixture
def fake_llm() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        fake.default = Reply.delay(
            LLM_DELAY_S, Reply.text("Invoices are under Settings > Billing > Invoices [1].")
        )
        yield fake


@pytest.fixture
def env(tmp_path: Path, fake_llm: FakeAnthropic) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWITCHBOARD_"))}
    e.update(
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=fake_llm.base_url,
        SWITCHBOARD_DATA_DIR=str(tmp_path / "data"),
        SWITCHBOARD_SHUTDOWN_GRACE_S="15",
        SWITCHBOARD_LLM_MAX_RETRIES="0",
        OTEL_SDK_DISABLED="true",
    )
    return e


def _ingest(env: dict[str, str], workdir: Path) -> None:
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "switchboard.cli.main", "ingest", str(BILLING)],
        env=env,
        check=True,
        capture_output=True,
        cwd=workdir,
    )


def _wait_in_flight(fake: FakeAnthropic, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len([r for r in fake.requests if r.path.endswith("/messages")]) < count:
        assert time.monotonic() < deadline, f"only {len(fake.requests)} LLM calls started"
        time.sleep(0.02)


def _sigterm_and_wait(service: Service) -> int:
    service.process.send_signal(signal.SIGTERM)
    return service.process.wait(30)


def test_agent_drains_in_flight_invokes_on_sigterm(
    tmp_path: Path, env: dict[str, str], fake_llm: FakeAnthropic
) -> None:
    _ingest(env, tmp_path)
    agent = launch("agent", ["agent", "--config", str(BILLING), "--port", "0"], tmp_path, env=env)
    try:
        with (
            grpc.insecure_channel(agent.address) as channel,
            ThreadPoolExecutor(IN_FLIGHT) as pool,
        ):
            stub = agent_pb2_grpc.AgentStub(channel)
            futures = [
                pool.submit(
                    stub.Invoke,
                    agent_pb2.InvokeRequest(request_id=f"r{i}", text=QUESTION),
                    timeout=60,
                )
                for i in range(IN_FLIGHT)
            ]
            _wait_in_flight(fake_llm, IN_FLIGHT)
            started = time.monotonic()
            code = _sigterm_and_wait(agent)
            replies = [f.result() for f in futures]  # raises if any call was lost
        assert code == 0, agent.log.read_text()[-3000:]
        assert len(replies) == IN_FLIGHT
        for reply in replies:
            assert reply.mode == "llm" and "Invoices" in reply.answer, reply
        # It waited for the slow calls rather than cutting them off...
        assert time.monotonic() - started >= LLM_DELAY_S * 0.5
    finally:
        terminate([agent])


def test_supervisor_drains_in_flight_asks_on_sigterm(
    tmp_path: Path, env: dict[str, str], fake_llm: FakeAnthropic
) -> None:
    _ingest(env, tmp_path)
    agent = launch("agent", ["agent", "--config", str(BILLING), "--port", "0"], tmp_path, env=env)
    services = [agent]
    try:
        agents_file = write_agents_file(tmp_path / "agents.yaml", {"billing": agent.address})
        supervisor = launch(
            "supervisor",
            ["supervisor", "--agents", str(agents_file), "--port", "0"],
            tmp_path,
            env=env,
        )
        services.append(supervisor)
        with (
            grpc.insecure_channel(supervisor.address) as channel,
            ThreadPoolExecutor(IN_FLIGHT) as pool,
        ):
            stub = supervisor_pb2_grpc.SupervisorStub(channel)
            futures = [
                pool.submit(stub.Ask, supervisor_pb2.AskRequest(text=QUESTION), timeout=60)
                for _ in range(IN_FLIGHT)
            ]
            _wait_in_flight(fake_llm, IN_FLIGHT)
            code = _sigterm_and_wait(supervisor)
            replies = [f.result() for f in futures]
        assert code == 0, supervisor.log.read_text()[-3000:]
        assert all(r.agent == "billing" and "Invoices" in r.answer for r in replies), replies
    finally:
        terminate(services)
