"""The local stack as a user runs it: ``make run`` stopped with requests in flight, and
``switchboard ask`` interrupted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.conftest import ROOT
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.system.conftest import FAKE_KEY, base_env, free_port, grounded_responder

pytestmark = pytest.mark.integration
IN_FLIGHT = 20
MODEL_DELAY_S = 1.5  # every answer takes this long, so all 20 are in flight at SIGTERM


def _read_until(
    process: subprocess.Popen[str], marker: str, timeout: float
) -> tuple[list[str], threading.Thread]:
    """Collects ``process``'s stdout lines (the list keeps growing until it ends) and returns
    once one contains ``marker``."""
    lines: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if marker in line:
                found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if not found.wait(timeout):
        process.kill()
        raise AssertionError(f"no {marker!r} within {timeout}s; output:\n" + "\n".join(lines))
    return lines, reader


def test_sigterm_to_make_run_answers_every_request_in_flight(data_copy: Any) -> None:
    data: Path = data_copy()
    with FakeAnthropic() as fake:
        fake.default = lambda body: Reply.delay(MODEL_DELAY_S, grounded_responder(body))
        port = free_port()
        env = base_env(data)
        env.update(
            ANTHROPIC_API_KEY=FAKE_KEY,
            ANTHROPIC_BASE_URL=fake.base_url,
            SWITCHBOARD_LLM_MAX_RETRIES="0",
        )
        make = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run",
                f"RUN_PORT={port}",
                "RUN_AGENT_PORT=0",
                "RUN_CONSOLE_PORT=0",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            output, reader = _read_until(make, "Ctrl-C stops everything", timeout=240)
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            stub = supervisor_pb2_grpc.SupervisorStub(channel)
            question = "How long do I have to ask for a refund on an annual plan?"
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                calls = [
                    pool.submit(
                        stub.Ask,
                        supervisor_pb2.AskRequest(text=question, agent="billing"),
                        timeout=60,
                    )
                    for _ in range(IN_FLIGHT)
                ]
                deadline = time.monotonic() + 30
                while len(fake.requests) < IN_FLIGHT and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(fake.requests) == IN_FLIGHT, "not every request reached the model"
                make.send_signal(signal.SIGTERM)  # every one of them is waiting on the model
                replies = [c.result() for c in calls]
            channel.close()
            # GNU make passes SIGTERM on to `switchboard run` and ends by it itself (-15);
            # the stack's own clean stop shows in its output below.
            assert make.wait(60) in (0, -signal.SIGTERM)
        finally:
            if make.poll() is None:
                make.kill()
    statuses = [common_pb2.Status.Name(r.status) for r in replies]
    assert statuses == ["ANSWERED"] * IN_FLIGHT, statuses
    reader.join(60)  # the output ends when `switchboard run` has exited
    said = "\n".join(output)
    assert "stopped supervisor" in said and "stopped agent-billing" in said
    assert said.index("stopped supervisor") < said.index("stopped agent-billing")
    assert "removed " in said, said
    workdir = next(line for line in said.splitlines() if line.startswith("removed "))[8:]
    assert not Path(workdir).exists()


def test_interrupted_ask_prints_one_line() -> None:
    """Ctrl-C while ``switchboard ask`` waits: one line on stderr, no traceback."""
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli.main", "ask", "hello", "--address", address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        )
        # The client connects only once its call is under way: Ctrl-C from then on. (A fixed
        # 2 s sleep guessed at that; in one full run the process then exited 2 after grpc's
        # 20 s connect timeout, the interrupt unseen. Not reproduced in 50 runs alone.)
        try:
            silent.settimeout(30)
            connection, _ = silent.accept()
            with connection:
                process.send_signal(signal.SIGINT)
                _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["interrupted: ask cancelled"], err
    assert "Traceback" not in err
