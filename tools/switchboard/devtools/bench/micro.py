"""The in-process and routing figures of ``make bench`` (embeddings, routing, sessions,
and with ``--full`` tracing overhead and what routing adds end to end).

Everything is compared in one run on one machine, never against fixed times: tracing
overhead is Ask latency with spans exported vs tracing off; what routing adds is Ask latency
routed vs with the agent named, interleaved on one stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.client import SupervisorClient
from switchboard.devtools.otlp_receiver import OtlpReceiver
from switchboard.devtools.stack import agent_configs, stack

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
    from switchboard.agent.knowledge.ingest import ingest_paths

    configs = agent_configs(agents_dir)
    from switchboard.agent.settings import AgentSettings
    from switchboard.core.embeddings import MiniLMEmbedder

    ingest_paths(configs, AgentSettings(), MiniLMEmbedder())
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
    from switchboard.core.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder()
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


DATA_DIR = Path("tests/data")  # labelled texts of the repository, when run from its root


def realistic_texts(cards: list[Any]) -> list[tuple[str, str]]:
    """(text, agent) pairs: the labelled conversation turns and knowledge-base questions in
    tests/data, or else the cards' own examples."""
    import yaml

    out: list[tuple[str, str]] = []
    sessions = DATA_DIR / "sessions.yaml"
    if sessions.is_file():
        for conversation in yaml.safe_load(sessions.read_text(encoding="utf-8"))["conversations"]:
            out += [(t["text"], t["agent"]) for t in conversation["turns"]]
    for facts in sorted((DATA_DIR / "facts").glob("*.yaml")):
        out += [(f["question"], facts.stem) for f in yaml.safe_load(facts.read_text("utf-8"))]
    return out or [(e, c.name) for c in cards for e in c.examples]


def routing_in_process(agents_dir: Path, min_calls: int = 300) -> dict[str, Any]:
    """``Router.route`` over the demo agents' cards (no LLM): p50/p99 of the whole call, of
    embedding the text alone, and of the rest (rules, scoring, calibration)."""
    from switchboard.core.embeddings import MiniLMEmbedder
    from switchboard.devtools.evals.routing import load_cards
    from switchboard.supervisor.routing.router import Router
    from switchboard.supervisor.settings import SupervisorSettings

    settings = SupervisorSettings()
    embedder = MiniLMEmbedder()
    cards = load_cards(agents_dir, None)
    texts = [t for t, _ in realistic_texts(cards)]
    texts = (texts * (min_calls // max(len(texts), 1) + 1))[: max(min_calls, len(texts))]
    router = Router(
        embedder,
        accept_confidence=settings.route_accept_confidence,
        min_similarity=settings.route_min_similarity,
        out_of_scope_similarity=settings.route_out_of_scope_similarity,
        temperature=settings.route_temperature,
    )
    total: list[float] = []
    embed: list[float] = []

    async def run() -> None:
        await router.fit(cards)
        for text in texts[:20]:  # warm-up
            await router.route(text)
        for text in texts:
            t0 = time.perf_counter()
            await router.embed(text)
            t1 = time.perf_counter()
            await router.route(text)
            t2 = time.perf_counter()
            embed.append((t1 - t0) * 1000)
            total.append((t2 - t1) * 1000)

    asyncio.run(run())
    rest = [t - e for t, e in zip(total, embed, strict=True)]
    result = {
        "calls": len(total),
        "distinct_texts": len(set(texts)),
        "route_p50_ms": round(statistics.median(total), 3),
        "route_p99_ms": round(_percentile(total, 0.99), 3),
        "embed_p50_ms": round(statistics.median(embed), 3),
        "scoring_p50_ms": round(statistics.median(rest), 3),
    }
    print(
        f"  Router.route in process: p50 {result['route_p50_ms']:.2f} ms, p99 "
        f"{result['route_p99_ms']:.2f} ms over {len(total)} calls (embedding one text p50 "
        f"{result['embed_p50_ms']:.2f} ms)"
    )
    return result


@dataclass
class _Sent:
    mode: str  # "routed" or "explicit"
    pair: int
    request_id: str
    client_ms: float


async def _routed_vs_explicit(
    address: str, labelled: list[tuple[str, str]], rounds: int, receiver: OtlpReceiver
) -> list[_Sent]:
    """Pairs of Asks of the same text, routed and with the agent named; which one goes first
    alternates, so load and caches hit both alike."""
    sent: list[_Sent] = []
    async with SupervisorClient(address) as client:
        usable = []
        for text, agent in labelled:  # warm-up; keep texts routing answers with their agent
            reply = await client.ask(text)
            await client.ask(text, agent=agent)
            if reply.agent == agent:
                usable.append((text, agent))
        await asyncio.sleep(1.0)  # let the warm-up's spans arrive, then drop them
        receiver.clear()
        for i in range(rounds):
            text, agent = usable[i % len(usable)]
            order = [("routed", ""), ("explicit", agent)]
            for mode, named in order if i % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                reply = await client.ask(text, agent=named)
                ms = (time.perf_counter() - started) * 1000
                sent.append(_Sent(mode, i, reply.request_id, ms))
    return sent


@dataclass
class _Own:
    total_ms: float  # the supervisor's Ask span minus the agent call
    decision_ms: float  # the same, less what comes before routing (embedding, screening)


def _supervisor_own_ms(spans: list[Any]) -> tuple[dict[str, _Own], list[float]]:
    """Per request id, the supervisor's own time; and the durations of ``route`` spans.

    ``decision_ms`` counts from the end of input screening (the query is embedded by then,
    routed or not) to the agent call, plus the time after the agent answered: the part of a
    request where routing can add anything, without the embedding's noise.
    """
    by_trace: dict[str, list[Any]] = {}
    for span in spans:
        if span.service_name == "switchboard-supervisor":
            by_trace.setdefault(span.trace_id, []).append(span)
    own: dict[str, _Own] = {}
    route_ms: list[float] = []
    for trace in by_trace.values():
        root = next((s for s in trace if s.is_root and s.name.endswith("Supervisor/Ask")), None)
        calls = [s for s in trace if s.name.startswith("invoke_agent ")]
        if root is None or len(calls) != 1:
            continue
        call = calls[0]
        screened = max(
            (s.end_time_unix_nano for s in trace if s.name == "screen_input"),
            default=root.start_time_unix_nano,
        )
        decision_ns = (call.start_time_unix_nano - screened) + (
            root.end_time_unix_nano - call.end_time_unix_nano
        )
        own[str(root.attributes.get("switchboard.request_id", ""))] = _Own(
            (root.duration_s - call.duration_s) * 1000, decision_ns / 1e6
        )
        route_ms += [s.duration_s * 1000 for s in trace if s.name == "route"]
    return own, route_ms


def routing_end_to_end(agents_dir: Path, rounds: int) -> dict[str, Any]:
    """What routing adds to an Ask, on one stack: routed vs with the agent named
    (``AskRequest.agent``), interleaved in pairs of the same text.

    The whole request is dominated by the agent's answer, whose noise on a busy machine is
    far larger than routing, so the figures come from the supervisor's spans: its own time
    per request (the Ask span minus the agent call), and within it the time from input
    screening to the agent call plus after it. Routing adds the median over pairs of routed
    minus named. Client-side p50s are reported as well.
    """
    from switchboard.devtools.evals.routing import load_cards

    labelled = realistic_texts(load_cards(agents_dir, None))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    with (
        OtlpReceiver() as receiver,
        tempfile.TemporaryDirectory(prefix="sb-bench-route-") as tmp,
    ):
        env = {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with stack(agent_configs(agents_dir), Path(tmp), env=env) as (supervisor, _):
            sent = asyncio.run(
                _routed_vs_explicit(supervisor.address, labelled[::3], rounds, receiver)
            )
        own, route_ms = _supervisor_own_ms(receiver.spans)  # the stack flushed on stop
    modes = ("routed", "explicit")
    client = {m: [s.client_ms for s in sent if s.mode == m] for m in modes}
    pairs: dict[int, dict[str, _Own]] = {}
    for s in sent:
        if s.request_id in own:
            pairs.setdefault(s.pair, {})[s.mode] = own[s.request_id]
    both = [p for p in pairs.values() if len(p) == 2]

    def p50(mode: str, field: str) -> float:
        return round(float(statistics.median(getattr(p[mode], field) for p in both)), 3)

    def added(field: str) -> float:
        diffs = [getattr(p["routed"], field) - getattr(p["explicit"], field) for p in both]
        return round(float(statistics.median(diffs)), 3)

    result = {
        "pairs": len(both),
        "ask_routed_p50_ms": round(statistics.median(client["routed"]), 2),
        "ask_explicit_p50_ms": round(statistics.median(client["explicit"]), 2),
        "supervisor_own_routed_p50_ms": p50("routed", "total_ms"),
        "supervisor_own_explicit_p50_ms": p50("explicit", "total_ms"),
        "supervisor_own_added_paired_median_ms": added("total_ms"),
        "decision_routed_p50_ms": p50("routed", "decision_ms"),
        "decision_explicit_p50_ms": p50("explicit", "decision_ms"),
        "routing_adds_p50_ms": added("decision_ms"),
        "route_span_p50_ms": round(statistics.median(route_ms), 3),
        "route_span_p99_ms": round(_percentile(route_ms, 0.99), 3),
        "target_ms": 5.0,
    }
    print(
        f"  Ask p50 routed {result['ask_routed_p50_ms']:.1f} ms vs agent named "
        f"{result['ask_explicit_p50_ms']:.1f} ms (the agent's answer dominates both)"
    )
    print(
        f"  supervisor's own time p50: routed {result['supervisor_own_routed_p50_ms']:.2f} ms, "
        f"named {result['supervisor_own_explicit_p50_ms']:.2f} ms (paired median "
        f"{result['supervisor_own_added_paired_median_ms']:+.2f} ms, embedding noise included)"
    )
    print(
        f"  routing adds {result['routing_adds_p50_ms']:+.2f} ms p50 (screening to agent call, "
        f"and after it; {len(both)} pairs; route span p50 {result['route_span_p50_ms']:.2f} ms, "
        f"p99 {result['route_span_p99_ms']:.2f} ms; target <= 5 ms)"
    )
    return result


def session_state_latency(turns: int = 200) -> dict[str, Any]:
    """What a session turn adds besides routing: reading its state before routing and
    saving it after the answer (SQLite in a temporary folder, as in a single-node setup)."""
    import numpy as np

    from switchboard.store import Store, StoreSettings
    from switchboard.supervisor.routing.sessions import SessionMemory

    loads: list[float] = []
    saves: list[float] = []

    async def run(folder: Path) -> None:
        settings = StoreSettings(database_url=None)
        store = await Store.open(settings, url=settings.url(folder))
        memory = SessionMemory(store.session_states)
        vector = np.ones(384, np.float32) / np.sqrt(384)
        try:
            for i in range(turns):
                session = f"bench-{i % 20}"
                t0 = time.perf_counter()
                await memory.load("", session)
                t1 = time.perf_counter()
                await memory.remember("", session, "billing", vector)
                t2 = time.perf_counter()
                loads.append((t1 - t0) * 1000)
                saves.append((t2 - t1) * 1000)
        finally:
            await store.close()

    with tempfile.TemporaryDirectory(prefix="sb-bench-sessions-") as tmp:
        asyncio.run(run(Path(tmp)))
    result = {
        "turns": turns,
        "load_p50_ms": round(statistics.median(loads), 3),
        "load_p99_ms": round(_percentile(loads, 0.99), 3),
        "save_p50_ms": round(statistics.median(saves), 3),
        "save_p99_ms": round(_percentile(saves, 0.99), 3),
    }
    print(
        f"  session state (SQLite): load p50 {result['load_p50_ms']:.2f} ms, save p50 "
        f"{result['save_p50_ms']:.2f} ms"
    )
    return result
