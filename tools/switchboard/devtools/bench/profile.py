"""``make profile``: py-spy records each service of a running stack under bench load.

py-spy samples a process from outside (it changes nothing in the service). Each service of
the Claude-path stack and of the offline stack is recorded while the load generator keeps
16 requests in flight; the samples are summed per request into cost centres (the embedding
model, the store, gRPC, tracing, logging, the anthropic client, Chroma, the guard, ...) and
the heaviest frames. docs/performance.md holds the tables this prints, before and after.
"""

from __future__ import annotations

import asyncio
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from switchboard.devtools.bench.load import Loader
from switchboard.devtools.bench.procs import fake_model
from switchboard.devtools.bench.system import _base_env, micro_ingest, questions
from switchboard.devtools.stack import Service, agent_configs, stack

RATE_HZ = 200
CONCURRENCY = 16

#: Cost centres, first match wins, tested against each sample's frames (innermost first).
CENTRES: list[tuple[str, tuple[str, ...]]] = [
    ("embedding model (ONNX Runtime, tokenizer)", ("onnxruntime", "embeddings.py", "tokenizers")),
    ("store (SQLAlchemy, aiosqlite, asyncpg)", ("sqlalchemy", "aiosqlite", "asyncpg", "/store/")),
    ("vector store (Chroma)", ("chromadb",)),
    ("anthropic SDK and httpx", ("anthropic", "httpx", "httpcore", "h11")),
    ("tracing and metrics (OpenTelemetry)", ("opentelemetry",)),
    ("logging (JSON)", ("logging/", "pythonjsonlogger", "core/logs")),
    ("injection guard", ("/guard/",)),
    ("pydantic validation", ("pydantic",)),
    ("protobuf and gRPC", ("grpc", "protobuf", "_pb2")),
    ("asyncio event loop and threads", ("asyncio", "selectors", "threading", "concurrent")),
]


def _centre(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in CENTRES:
            if any(n in frame for n in needles):
                return name
    return "other Python (Switchboard's own code)"


def summarise(raw: Path, requests: int, top: int = 12) -> dict[str, Any]:
    """Milliseconds of samples per request by cost centre, and the heaviest own frames."""
    centres: collections.Counter[str] = collections.Counter()
    frames: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        parts = stack_text.split(";")
        total += n
        centres[_centre(parts)] += n
        frames[parts[-1]] += n

    def ms(c: int) -> float:
        return round(c * 1000 / RATE_HZ / max(requests, 1), 2)

    return {
        "ms_per_request": ms(total),
        "centres": {k: ms(v) for k, v in centres.most_common()},
        "top_frames": {k[:120]: ms(v) for k, v in frames.most_common(top)},
    }


async def _load_for(address: str, texts: list[str], seconds: float) -> int:
    loader = Loader(address)
    done = 0
    try:
        await loader.sequential(texts, 2 * len(texts))
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            run = await loader.in_flight(texts, 4 * CONCURRENCY, CONCURRENCY)
            done += run.requests
    finally:
        await loader.close()
    return done


def _record(
    spy: str,
    services: list[Service],
    address: str,
    texts: list[str],
    out: Path,
    label: str,
    seconds: float,
) -> dict[str, Any]:
    def command(s: Service) -> list[str]:
        target = str(out / f"{label}-{s.name}.txt")
        options = ["--duration", str(int(seconds)), "--rate", str(RATE_HZ), "--format", "raw"]
        return [spy, "record", "--pid", str(s.process.pid), *options, "--nonblocking", "-o", target]

    spies = {
        s.name: subprocess.Popen(command(s), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for s in services
    }
    requests = asyncio.run(_load_for(address, texts, seconds))
    for process in spies.values():
        process.wait()
    result: dict[str, Any] = {"requests": requests}
    for name in spies:
        raw = out / f"{label}-{name}.txt"
        if raw.exists():
            result[name] = summarise(raw, requests)
    return result


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the venv
    return str(beside) if beside.exists() else shutil.which("py-spy")


def main(agents_dir: Path, out: Path, seconds: float = 20.0) -> int:
    spy = _py_spy()
    if spy is None:
        print("py-spy is not installed: .venv/bin/pip install py-spy")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    texts = questions(agents_dir)
    configs = agent_configs(agents_dir)
    micro_ingest(configs)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sb-profile-") as tmp, fake_model(Path(tmp)) as model:
        env = _base_env()
        claude = {**env, "ANTHROPIC_API_KEY": "bench-key", "ANTHROPIC_BASE_URL": model.base_url}
        for label, stack_env in (("claude", claude), ("offline", env)):
            folder = Path(tmp) / label
            folder.mkdir()
            with stack(configs, folder, env=stack_env) as (supervisor, agents):
                report[label] = _record(
                    spy, [supervisor, *agents], supervisor.address, texts, out, label, seconds
                )
    (out / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    for label, services in report.items():
        print(f"== {label}: {services['requests']} requests profiled")
        for name, summary in services.items():
            if name == "requests":
                continue
            print(f"  {name}: {summary['ms_per_request']:.1f} ms of samples per request")
            for centre, ms in list(summary["centres"].items())[:6]:
                print(f"    {ms:7.2f} ms  {centre}")
    print(f"== raw samples and profile.json in {out}")
    return 0
