"""The processes a bench run measures: the fake model server, and CPU and memory per service.

The fake Messages API runs in its own process (``switchboard.devtools.fake_anthropic``), so
the anthropic SDK in each service talks to it over loopback HTTP exactly as it would to the
real API, and its CPU is not the load generator's. CPU time and RSS come from ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.devtools.stack import Service

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class FakeModel:
    base_url: str

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as reply:
            return dict(json.loads(reply.read()))

    def set_delay(self, seconds: float) -> None:
        self._post("/_fake/config", {"delay_s": seconds})

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.base_url + "/_fake/stats", timeout=5) as reply:
            return {k: int(v) for k, v in json.loads(reply.read()).items()}


@contextlib.contextmanager
def fake_model(workdir: Path) -> Iterator[FakeModel]:
    """The fake Messages API in a child process, stopped on exit."""
    ready = workdir / "fake-model.ready.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard.devtools.fake_anthropic", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake model server did not start")
            time.sleep(0.05)
        yield FakeModel(f"http://127.0.0.1:{json.loads(ready.read_text())['port']}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class CpuMeter:
    """CPU seconds each service spent between :meth:`start` and :meth:`per_request`."""

    def __init__(self, services: Sequence[Service]) -> None:
        self._services = list(services)
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {s.name: cpu_seconds(s.process.pid) for s in self._services}

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request, per service."""
        out = {}
        for s in self._services:
            spent = cpu_seconds(s.process.pid) - self._start.get(s.name, 0.0)
            out[s.name] = round(spent * 1000 / max(requests, 1), 2)
        return out

    def rss(self) -> dict[str, float]:
        return {s.name: rss_mb(s.process.pid) for s in self._services}
