"""Two replicas of an agent behind one address: killing one mid-stream fails no request.

The supervisor balances over every address of an agent (round_robin) and retries a call
that never reached a healthy replica (UNAVAILABLE, through the service config), so a
replica dying with requests in flight costs the caller nothing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
import yaml

from switchboard.devtools.stack import Service, launch, terminate
from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.conftest import AGENTS_DIR
from tests.system.conftest import base_env

QUESTIONS = [
    "Where do I download last month's invoice?",
    "Can I get a refund on an annual plan?",
    "How do I update the card we pay with?",
    "Why was I charged twice this month?",
]


def served(replicas: list[Service]) -> list[int]:
    return [r.log.read_text(errors="replace").count("invoke answered") for r in replicas]


def done(statuses: Counter[str], lock: threading.Lock) -> int:
    with lock:
        return sum(statuses.values())


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def replicas(data_copy, tmp_path: Path) -> Iterator[list[Service]]:
    config = AGENTS_DIR / "billing" / "agent.yaml"
    started: list[Service] = []
    try:
        for i in range(2):
            env = base_env(data_copy())  # each replica owns its embedded store
            started.append(
                launch(
                    f"billing-{i}",
                    ["agent", "--config", str(config), "--port", "0"],
                    tmp_path,
                    env=env,
                )
            )
        yield started
    finally:
        terminate(started)


def test_a_killed_replica_costs_no_request(replicas: list[Service], tmp_path: Path) -> None:
    card = yaml.safe_load((AGENTS_DIR / "billing" / "agent.yaml").read_text())
    target = "ipv4:" + ",".join(s.address for s in replicas)
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(
        yaml.safe_dump(
            {
                "agents": [
                    {
                        "name": "billing",
                        "address": target,
                        "description": card["description"],
                        "examples": card["examples"],
                    }
                ]
            }
        )
    )
    sup = launch(
        "supervisor",
        ["supervisor", "--agents", str(agents_file), "--port", "0"],
        tmp_path,
        env=base_env(tmp_path / "sup-data"),
    )
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(worker: int) -> None:
        with grpc.insecure_channel(sup.address) as channel:
            stub = supervisor_pb2_grpc.SupervisorStub(channel)
            i = 0
            while not stop.is_set():
                text = QUESTIONS[(worker + i) % len(QUESTIONS)]
                i += 1
                try:
                    reply = stub.Ask(
                        supervisor_pb2.AskRequest(text=text, agent="billing"), timeout=20
                    )
                    with lock:
                        statuses[common_pb2.Status.Name(reply.status)] += 1
                except grpc.RpcError as exc:
                    with lock:
                        failures.append(f"{exc.code().name}: {exc.details()}")

    workers = [threading.Thread(target=client, args=(w,)) for w in range(3)]
    try:
        for w in workers:
            w.start()
        # both replicas serving (waits on traffic, not on the clock: the machine may be slow)
        wait_until(lambda: min(served(replicas)) >= 2, "both replicas to answer")
        replicas[0].process.kill()  # no drain, no goodbye: requests in flight are cut off
        killed_at = done(statuses, lock)
        wait_until(lambda: done(statuses, lock) >= killed_at + 8, "answers after the kill")
        stop.set()
        for w in workers:
            w.join(timeout=30)
    finally:
        stop.set()
        terminate([sup])
    total = sum(statuses.values())
    assert failures == []
    assert total - killed_at >= 8, statuses
    # answered offline by the surviving replica: the same answers as before the kill
    assert set(statuses) <= {"DEGRADED", "ANSWERED"}, statuses
