"""Starts the real system as separate processes on free ports, once per test session."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from switchboard.agent.knowledge.ingest import ingest_paths
from switchboard.agent.settings import AgentSettings
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.devtools.stack import SERVICE_TOKEN_ENV, Service, stack, with_service_token
from switchboard.v1 import agent_pb2_grpc, supervisor_pb2_grpc
from tests.conftest import AGENTS_DIR, DOMAINS
from tests.fakes.fake_anthropic import FakeAnthropic, Reply, last_user_text
from tests.harness.grpc_auth import supervisor_channel

CONFIGS = [AGENTS_DIR / d / "agent.yaml" for d in DOMAINS]
FAKE_KEY = "sk-ant-test-0123456789"
GUARD_CACHE = Path(tempfile.gettempdir()) / "switchboard-test-guard-cache"


@dataclass
class Stack:
    supervisor: Service
    agents: dict[str, Service]
    channel: grpc.Channel
    workdir: Path
    env: dict[str, str]

    @property
    def stub(self) -> supervisor_pb2_grpc.SupervisorStub:
        return supervisor_pb2_grpc.SupervisorStub(self.channel)

    def agent_stub(self, name: str) -> agent_pb2_grpc.AgentStub:
        """A stub that calls the agent as this stack's supervisor does (its service token)."""
        secret = self.env.get(SERVICE_TOKEN_ENV)
        return agent_pb2_grpc.AgentStub(supervisor_channel(self.agents[name].address, secret))


def free_port() -> int:
    """A loopback port nobody listens on (for an agent that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "OTEL_", "SWITCHBOARD_"))
    }
    env["SWITCHBOARD_DATA_DIR"] = str(data_dir)
    env["SWITCHBOARD_LOG_LEVEL"] = "INFO"
    # the guard's trained weights are keyed by a hash of their inputs: safe to share
    env["SWITCHBOARD_GUARD_CACHE_DIR"] = str(GUARD_CACHE)
    return env


@pytest.fixture(scope="session")
def ingested_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ingested")
    reports = ingest_paths(CONFIGS, AgentSettings(data_dir=data), MiniLMEmbedder())
    assert all(r.added for r in reports)
    return data


@pytest.fixture(scope="session")
def data_copy(ingested_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private copy of the ingested stores, so each stack owns its files."""

    def make() -> Path:
        target = tmp_path_factory.mktemp("data") / "data"
        shutil.copytree(ingested_data, target)
        return target

    yield make  # type: ignore[misc]


def _start(env: dict[str, str], workdir: Path) -> Iterator[Stack]:
    env = with_service_token(env)  # the stack's service secret, kept for agent_stub
    with stack(CONFIGS, workdir, env=env) as (supervisor, agents):
        channel = grpc.insecure_channel(supervisor.address)
        try:
            yield Stack(
                supervisor,
                {a.name.removeprefix("agent-"): a for a in agents},
                channel,
                workdir,
                env,
            )
        finally:
            channel.close()


@pytest.fixture(scope="session")
def offline_stack(data_copy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack with no API key: the offline extractive backend answers."""
    env = base_env(data_copy())
    yield from _start(env, tmp_path_factory.mktemp("offline-stack"))


def grounded_responder(body: dict[str, Any]) -> Reply:
    """Plays Claude: routes with the tool when asked, otherwise answers citing passage [1].

    Agents offer their own tools on every call; only the router forces ``choose_agent``.
    """
    if (body.get("tool_choice") or {}).get("name") == "choose_agent":
        return Reply.tool_use(
            "choose_agent",
            {"agent": "billing", "confidence": 0.8, "reason": "fake router"},
            input_tokens=210,
            output_tokens=30,
        )
    text = last_user_text(body)
    start = text.find('">\n') + 3
    passage = text[start : start + 120].strip().splitlines()[0]
    return Reply.text(f"According to our docs: {passage} [1]", input_tokens=900, output_tokens=60)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        fake.default = grounded_responder
        yield fake


@pytest.fixture
def llm(fake_llm: FakeAnthropic) -> Iterator[FakeAnthropic]:
    fake_llm.reset()
    fake_llm.default = grounded_responder
    yield fake_llm
    fake_llm.reset()
    fake_llm.default = grounded_responder


@pytest.fixture(scope="session")
def llm_stack(
    data_copy, fake_llm: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack with an API key, talking to the local fake Messages API."""
    env = base_env(data_copy())
    env.update(
        ANTHROPIC_API_KEY=FAKE_KEY,
        ANTHROPIC_BASE_URL=fake_llm.base_url,
        SWITCHBOARD_LLM_MAX_RETRIES="2",
        SWITCHBOARD_LLM_TIMEOUT_S="3",
    )
    yield from _start(env, tmp_path_factory.mktemp("llm-stack"))
