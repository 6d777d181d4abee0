"""The provider answers 429 and 529 for a while: every request still ends in a stated state.

Through the real supervisor and agents, with the anthropic SDK against the fake Messages
API. During the storm the agents' LLM breakers open, so answers come back DEGRADED (offline,
clearly marked) at once instead of each request burning its retries; when the storm ends a
probe closes the breakers and answers are ANSWERED by Claude again. None is lost, nothing
crashes, and the agents' health reports the LLM as not serving while it is down.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchboard.devtools.stack import SERVICE_TOKEN_ENV
from switchboard.v1 import common_pb2, supervisor_pb2
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.harness.grpc_auth import supervisor_channel
from tests.system.conftest import FAKE_KEY, Stack, _start, base_env, grounded_responder

QUESTIONS = [
    "Where do I download last month's invoice?",
    "How do I set up SAML single sign-on with Okta?",
    "What is the API rate limit per token?",
    "Can I get a refund on an annual plan?",
    "How many backup codes do I get for two-factor login?",
    "Slack notifications stopped arriving in our channel",
]
RESET_S = 5.0


class Storm:
    """Plays Claude, failing with 429/529 while ``raging``."""

    def __init__(self) -> None:
        self.raging = False
        self.failed = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.raging:
                self.failed += 1
                if self.failed % 2:
                    return Reply.error(429, retry_after=0.05)
                return Reply.error(529)
        return grounded_responder(body)


@pytest.fixture(scope="module")
def storm_stack(data_copy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    storm = Storm()
    with FakeAnthropic() as fake:
        fake.default = storm
        env = base_env(data_copy())
        env.update(
            ANTHROPIC_API_KEY=FAKE_KEY,
            ANTHROPIC_BASE_URL=fake.base_url,
            SWITCHBOARD_LLM_MAX_RETRIES="1",
            SWITCHBOARD_LLM_TIMEOUT_S="5",
            SWITCHBOARD_LLM_BREAKER_THRESHOLD="3",
            SWITCHBOARD_LLM_BREAKER_RESET_S=str(RESET_S),
        )
        for stack in _start(env, tmp_path_factory.mktemp("storm-stack")):
            yield stack, fake, storm


def llm_health(stack: Stack, agent: str) -> int:
    secret = stack.env.get(SERVICE_TOKEN_ENV)  # per-service health needs credentials
    with supervisor_channel(stack.agents[agent].address, secret) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="switchboard.v1.Agent/llm"), timeout=5
        )
    return int(reply.status)


def ask_many(stack: Stack, n: int, workers: int = 3) -> tuple[Counter[str], list[str]]:
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def run(worker: int) -> None:
        for i in range(worker, n, workers):
            try:
                reply = stack.stub.Ask(
                    supervisor_pb2.AskRequest(text=QUESTIONS[i % len(QUESTIONS)]), timeout=30
                )
                with lock:
                    statuses[common_pb2.Status.Name(reply.status)] += 1
            except grpc.RpcError as exc:
                with lock:
                    errors.append(f"{exc.code().name}: {exc.details()}")

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return statuses, errors


def test_a_429_529_storm_degrades_then_recovers(storm_stack: Any) -> None:
    stack, fake, storm = storm_stack
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING

    before, errors = ask_many(stack, 6)
    assert errors == [] and before == {"ANSWERED": 6}

    storm.raging = True
    calls_before = len(fake.requests)
    during, errors = ask_many(stack, 36)
    storm_calls = len(fake.requests) - calls_before
    # every request ended in a stated state: answered offline, never lost, never an error
    assert errors == [], errors
    assert sum(during.values()) == 36 and set(during) <= {"DEGRADED", "ANSWERED"}, during
    assert during["DEGRADED"] >= 30, during
    # the breakers opened: at most half the provider calls that 36 requests x 2 attempts
    # would make without them (3 agents x 3 failures x 2 attempts open them all)
    assert storm_calls <= 36, storm_calls
    assert {llm_health(stack, a) for a in stack.agents} == {not_serving}

    storm.raging = False
    time.sleep(RESET_S + 0.5)  # the breakers let a probe through
    after, errors = ask_many(stack, 9)
    assert errors == [] and after["ANSWERED"] >= 6, after
    assert {llm_health(stack, a) for a in stack.agents} == {serving}
