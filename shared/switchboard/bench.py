"""Benchmarks, run by ``make bench``: figures printed and written to a results file.

Everything is compared as ratios measured in one run on one machine, never against fixed
times: tracing overhead is Ask latency with spans exported vs tracing off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from switchboard.client import SupervisorClient
from switchboard.devstack import agent_configs, stack
from switchboard.otlp_receiver import OtlpReceiver

QUESTIONS = [
    "How long do I have to ask for a refund on an annual plan?",
    "What's the API rate limit per token?",
    "How many backup codes do I get when I turn on two-factor authentication?",
    "Where can I download my invoices?",
    "The desktop app won't sync my tasks",
    "How do I set up SAML single sign-on with Okta?",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _interleaved(addresses: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Round-robin over the stacks, so drift (caches, other load) hits every mode alike."""
    out: dict[str, list[float]] = {mode: [] for mode in addresses}
    clients = {mode: SupervisorClient(address) for mode, address in addresses.items()}
    try:
        for client in clients.values():  # warm-up: first calls load caches, open channels
            for q in QUESTIONS:
                await client.ask(q)
        for i in range(rounds):
            for mode, client in clients.items():
                started = time.perf_counter()
                await client.ask(QUESTIONS[i % len(QUESTIONS)])
                out[mode].append((time.perf_counter() - started) * 1000)
    finally:
        for client in clients.values():
            await client.close()
    return out


def tracing_overhead(agents_dir: Path, rounds: int) -> dict[str, Any]:
    """p50/p95 of Ask with tracing disabled, on without an exporter, and exporting over OTLP.

    The three stacks run side by side and requests alternate between them, so the ratio is
    measured in one run under the same conditions.
    """
    from switchboard.agent.ingest import ingest_paths

    configs = agent_configs(agents_dir)
    ingest_paths(configs)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    results: dict[str, Any] = {}
    with OtlpReceiver() as receiver, contextlib.ExitStack() as stacks:
        modes = {
            "off": {**base, "OTEL_SDK_DISABLED": "true"},
            "on_not_exported": base,
            "exporting": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint},
        }
        addresses = {}
        for mode, env in modes.items():
            workdir = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="sb-bench-")))
            supervisor, _ = stacks.enter_context(stack(configs, workdir, env=env))
            addresses[mode] = supervisor.address
        latencies = asyncio.run(_interleaved(addresses, rounds))
        for mode, ms in latencies.items():
            results[mode] = {
                "requests": len(ms),
                "p50_ms": round(statistics.median(ms), 2),
                "p95_ms": round(_percentile(ms, 0.95), 2),
            }
            print(
                f"  Ask latency, tracing {mode:<16} p50 {results[mode]['p50_ms']:7.2f} ms  "
                f"p95 {results[mode]['p95_ms']:7.2f} ms  ({len(ms)} requests)"
            )
        results["spans_received"] = len(receiver.spans)
    overhead = results["exporting"]["p50_ms"] / results["off"]["p50_ms"] - 1
    results["exporting_vs_off_p50_overhead"] = round(overhead, 4)
    print(f"  tracing overhead (exporting vs off, p50): {overhead:+.1%} (target <= +10%)")
    return results


def embedding_throughput(n: int = 512) -> dict[str, Any]:
    from switchboard.core.embeddings import shared_embedder

    embedder = shared_embedder()
    texts = [
        f"Question {i}: how do I change the billing contact for invoice {i}?" for i in range(n)
    ]
    embedder.embed(texts[:32])
    started = time.perf_counter()
    embedder.embed(texts)
    batched = n / (time.perf_counter() - started)
    singles = []
    for t in texts[:100]:
        s = time.perf_counter()
        embedder.embed([t])
        singles.append((time.perf_counter() - s) * 1000)
    result = {
        "batched_sentences_per_s": round(batched, 1),
        "single_p50_ms": round(statistics.median(singles), 3),
    }
    print(
        f"  embeddings: {batched:.0f} sentences/s batched; one query p50 "
        f"{result['single_p50_ms']:.2f} ms"
    )
    return result


def main(agents_dir: Path, out: Path, rounds: int) -> int:
    print("== Benchmarks")
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "embeddings": embedding_throughput(),
        "tracing": tracing_overhead(agents_dir, rounds),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"== Results written to {out}")
    return 0
