"""A few thousand requests through a system under injected faults: nothing lost, nothing twice.

The supervisor and three agents run in this process over real gRPC (``tests/harness``), with
the real request ledger and tool effects in SQLite. Faults:

* agents answer UNAVAILABLE before doing anything, or after doing the work (the reply is lost);
* agents reply too late, before or after doing the work (the caller's deadline passes);
* TCP connections (client to supervisor, supervisor to agents) are cut at random moments;
* callers sometimes set a deadline too short to be met.

Callers behave like real ones: they retry UNAVAILABLE, ABORTED and DEADLINE_EXCEEDED with the
same request_id and backoff; some send the same request twice at once; some confirm one
proposed refund from two requests at once; a few reuse a finished id for another request.

Then, from the callers' side and from the store: every request_id ended exactly once (one
stored answer that every caller of it received, or one clear error), a repeat returns the
stored bytes, no claim is left hanging, and no refund was carried out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import resource
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from pydantic import JsonValue
from sqlalchemy import select

from switchboard.agent.api.servicer import AgentServicer
from switchboard.agent.app import AgentApp
from switchboard.agent.config import AgentConfig
from switchboard.core import errors
from switchboard.core.audit import AuditKind
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard, Outcome
from switchboard.store import Claim, IdempotencyStore, Store, StoreError
from switchboard.store.models import ToolEffectRow
from switchboard.supervisor.api.convert import result_to_proto
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.ledger import RequestLedger
from switchboard.supervisor.replies import UNAVAILABLE_MESSAGE
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import agent_pb2, common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.tcp_proxy import DroppingProxy
from tests.fakes.tool_backend import CountingBackend
from tests.harness.stack import (
    Credentials,
    cached_guard,
    served_agent,
    served_supervisor,
    small_store,
)
from tests.harness.store import open_sqlite_store

pytestmark = pytest.mark.integration

Code = grpc.StatusCode
AGENTS = ("account", "billing", "support")
DOCS = {"billing": ("refund-policy.md", "invoices-and-receipts.md", "payment-methods.md")}
SEED = 20250101
JOBS = 1700  # questions and refund flows: about 2,100 request ids in all
WORKERS = 24
CALL_TIMEOUT_S = 3.0
SHORT_TIMEOUT_S = 0.25
#: A caller keeps retrying one request for this long, then gives up. A caller that gives up
#: fails the run: it says the system stopped making progress. It is not a speed limit (speed is
#: ``make bench``'s business): on a loaded or slow machine, calls queue behind each other in
#: this one process past CALL_TIMEOUT_S, and a patient caller still gets its answer.
RETRY_FOR_S = 120.0
RETRYABLE = {Code.UNAVAILABLE, Code.ABORTED, Code.DEADLINE_EXCEEDED}
#: Per agent call: (fault, probability).
AGENT_FAULTS = (
    ("unavailable_before", 0.03),
    ("unavailable_after", 0.03),
    ("slow_before", 0.01),
    ("slow_after", 0.01),
)
P_SHORT_DEADLINE = 0.03
P_DUPLICATE = 0.10  # the same request from two callers at once
P_DOUBLE_CONFIRM = 0.20  # one proposed refund confirmed from two requests at once
P_REFUND = 0.25
P_CONFLICT = 0.02  # a finished id reused for a different request
DROP_EVERY_S = (0.4, 1.5)
CLIENT_OPTIONS = [
    ("grpc.enable_retries", 0),  # the caller below retries, visibly
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
END_STATUSES = {
    "ANSWERED",
    "DEGRADED",
    "ESCALATED",
    "NEEDS_CLARIFICATION",
    "REFUSED",
    "NEEDS_CONFIRMATION",
}


# -- faults -----------------------------------------------------------------------------------


class FaultyAgent:
    """The real agent servicer behind faults drawn per call."""

    def __init__(self, inner: AgentServicer, rng: random.Random, tally: Counter[str]) -> None:
        self._inner = inner
        self._rng = rng
        self._tally = tally

    def _draw(self) -> str:
        self._tally["agent_calls"] += 1
        roll = self._rng.random()
        for fault, p in AGENT_FAULTS:
            if roll < p:
                self._tally[fault] += 1
                return fault
            roll -= p
        return ""

    async def _too_late(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await asyncio.sleep((context.time_remaining() or 1.0) + 0.3)

    async def Invoke(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.InvokeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> agent_pb2.InvokeResponse:
        fault = self._draw()
        if fault == "unavailable_before":
            await context.abort(Code.UNAVAILABLE, "injected: agent unavailable")
        if fault == "slow_before":
            await self._too_late(context)
        reply = await self._inner.Invoke(request, context)
        if fault == "unavailable_after":
            await context.abort(Code.UNAVAILABLE, "injected: reply lost after the work was done")
        if fault == "slow_after":
            await self._too_late(context)
        return reply

    async def Describe(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.DescribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        return await self._inner.Describe(request, context)

    async def InvokeStream(  # noqa: N802 - gRPC method name
        self, request: agent_pb2.InvokeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        await self._inner.InvokeStream(request, context)  # the fault run asks with Ask only


async def cut_connections(
    proxies: list[DroppingProxy], rng: random.Random, stop: asyncio.Event, tally: Counter[str]
) -> None:
    """Every so often, resets every connection through one proxy."""
    while not stop.is_set():
        try:
            async with asyncio.timeout(rng.uniform(*DROP_EVERY_S)):
                await stop.wait()
        except TimeoutError:
            proxy = rng.choice(proxies)
            tally["connection_cuts"] += 1
            tally["connections_cut"] += proxy.drop_all()


# -- the system -------------------------------------------------------------------------------


@dataclass
class System:
    creds: Credentials
    supervisor: SupervisorApp
    agents: dict[str, AgentApp]
    proxies: dict[str, DroppingProxy]
    backend: CountingBackend
    db: Store  # the supervisor's: request results
    agent_db: Store  # the agents': tool effects
    faults: Counter[str]

    @property
    def front(self) -> DroppingProxy:
        return self.proxies["supervisor"]


@pytest.fixture
async def system(
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
    tmp_path: Path,
) -> AsyncIterator[System]:
    creds = Credentials()
    guard = await asyncio.to_thread(cached_guard, embedder)
    stores = {
        n: await asyncio.to_thread(
            small_store, agent_configs[n], embedder, tmp_path, DOCS.get(n, ())
        )
        for n in AGENTS
    }
    rng = random.Random(SEED)
    faults: Counter[str] = Counter()
    backend = CountingBackend(latency_s=0.02, seed=SEED)
    agents: dict[str, AgentApp] = {}
    proxies: dict[str, DroppingProxy] = {}
    async with contextlib.AsyncExitStack() as stack:
        # Supervisor and agents share one SQLite file through their own engines, as a local
        # stack's processes do.
        db = await open_sqlite_store(tmp_path)
        stack.push_async_callback(db.close)
        agent_db = await open_sqlite_store(tmp_path)
        stack.push_async_callback(agent_db.close)
        for name in AGENTS:
            agents[name] = await stack.enter_async_context(
                served_agent(
                    agent_configs[name],
                    stores[name],
                    workdir=tmp_path / name,
                    embedder=embedder,
                    guard=guard,
                    backend=backend,
                    db=agent_db,
                    creds=creds,
                    wrap=lambda inner: FaultyAgent(inner, random.Random(rng.random()), faults),
                )
            )
            proxies[name] = await DroppingProxy("127.0.0.1", port(agents[name].address)).start()
            stack.push_async_callback(proxies[name].close)
        supervisor = await stack.enter_async_context(
            served_supervisor(
                agent_cards,
                {n: p.address for n, p in proxies.items()},
                workdir=tmp_path / "supervisor",
                embedder=embedder,
                index=card_index,
                guard=guard,
                db=db,
                creds=creds,
                breaker_failure_threshold=5,
                breaker_reset_s=1.0,
            )
        )
        proxies["supervisor"] = await DroppingProxy("127.0.0.1", port(supervisor.address)).start()
        stack.push_async_callback(proxies["supervisor"].close)
        yield System(creds, supervisor, agents, proxies, backend, db, agent_db, faults)


def port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# -- callers ----------------------------------------------------------------------------------


@dataclass
class Final:
    """How one caller's request ended."""

    rid: str
    reply: supervisor_pb2.AskResponse | None = None
    code: Code = Code.OK
    details: str = ""
    attempts: int = 0

    @property
    def gave_up(self) -> bool:
        return self.reply is None and self.code in RETRYABLE


@dataclass
class Book:
    """What the callers saw."""

    finals: dict[str, list[Final]] = field(default_factory=lambda: defaultdict(list))
    requests: dict[str, supervisor_pb2.AskRequest] = field(default_factory=dict)
    conflicts: list[Final] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # of calls that got a reply
    attempts: int = 0
    short_deadlines: int = 0
    actions: dict[str, str] = field(default_factory=dict)  # action jti -> refund reason
    confirms: dict[str, str] = field(default_factory=dict)  # confirming rid -> action jti


class Caller:
    def __init__(self, system: System, book: Book, rng: random.Random) -> None:
        self._channel = grpc.aio.insecure_channel(system.front.address, options=CLIENT_OPTIONS)
        self._stub = supervisor_pb2_grpc.SupervisorStub(self._channel)
        self._auth = (system.creds.bearer,)
        self._book = book
        self._rng = rng

    async def close(self) -> None:
        await self._channel.close()

    async def ask(self, request: supervisor_pb2.AskRequest) -> Final:
        """One caller's request: retried with the same id until it ends or time runs out."""
        book = self._book
        book.requests.setdefault(request.request_id, request)
        final = Final(request.request_id)
        give_up_at = time.monotonic() + RETRY_FOR_S
        for attempt in itertools.count(1):
            final.attempts = attempt
            book.attempts += 1
            timeout = CALL_TIMEOUT_S
            if self._rng.random() < P_SHORT_DEADLINE:
                timeout = SHORT_TIMEOUT_S
                book.short_deadlines += 1
            try:
                sent = time.monotonic()
                final.reply = await self._stub.Ask(request, metadata=self._auth, timeout=timeout)
                book.latencies.append(time.monotonic() - sent)
                final.code = Code.OK
                break
            except grpc.aio.AioRpcError as exc:
                final.code, final.details = exc.code(), exc.details() or ""
            if final.code not in RETRYABLE or time.monotonic() > give_up_at:
                break
            book.retries[final.code.name] += 1
            backoff = min(1.0, 0.05 * 2 ** (attempt - 1))
            await asyncio.sleep(backoff * self._rng.uniform(0.5, 1.5))
        return final

    async def ask_all(self, request: supervisor_pb2.AskRequest, callers: int = 1) -> Final:
        """The same request from ``callers`` callers at once; the first one's end."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self.ask(request)) for _ in range(callers)]
        finals = [t.result() for t in tasks]
        self._book.finals[request.request_id].extend(finals)
        return finals[0]


def new_request(
    text: str, *, agent: str = "", confirm: str = "", customer: str = ""
) -> supervisor_pb2.AskRequest:
    return supervisor_pb2.AskRequest(
        request_id=f"fr-{uuid.uuid4().hex}",
        text=text,
        agent=agent,
        confirm_action=confirm,
        metadata={"customer_id": customer} if customer else {},
    )


async def question(caller: Caller, rng: random.Random, cards: list[AgentCard]) -> None:
    text = rng.choice(
        [
            *(e for c in cards for e in c.examples[:8]),
            "How much does SSO cost?",
            "What's a good recipe for banana bread?",
            "How do I export invoices and change the billing email?",
        ]
    )
    await caller.ask_all(new_request(text), 2 if rng.random() < P_DUPLICATE else 1)


async def refund_flow(caller: Caller, rng: random.Random, book: Book, n: int) -> None:
    """Ask for a refund (NEEDS_CONFIRMATION), then confirm it, maybe from two requests."""
    customer = f"cus_{n % 50:03d}"
    reason = f"fault-run-{n}"
    ask = new_request(
        f"Please refund invoice BL-2025-{n:06d} because {reason}",
        agent="billing",
        customer=customer,
    )
    first = await caller.ask_all(ask, 2 if rng.random() < P_DUPLICATE else 1)
    if first.reply is None or first.reply.status != common_pb2.NEEDS_CONFIRMATION:
        return
    action = first.reply.pending_action.id
    jti = jwt.decode(action, options={"verify_signature": False})["jti"]
    book.actions[jti] = f"because {reason}"
    confirms = [
        new_request("Yes, go ahead", agent="billing", confirm=action, customer=customer)
        for _ in range(2 if rng.random() < P_DOUBLE_CONFIRM else 1)
    ]
    for c in confirms:
        book.confirms[c.request_id] = jti
    async with asyncio.TaskGroup() as group:
        for c in confirms:
            group.create_task(caller.ask_all(c, 2 if rng.random() < P_DUPLICATE else 1))


async def conflict(caller: Caller, book: Book, rng: random.Random) -> None:
    """Reuses a finished request's id for a different request: ALREADY_EXISTS."""
    done = [rid for rid, fs in book.finals.items() if any(stored_reply(f) for f in fs)]
    if not done:
        return
    original = book.requests[rng.choice(done)]
    reused = supervisor_pb2.AskRequest()
    reused.CopyFrom(original)
    reused.text = original.text + " (and something else)"
    book.conflicts.append(await caller.ask(reused))


# -- the run ----------------------------------------------------------------------------------


async def test_thousands_of_requests_under_faults(
    system: System, agent_cards: list[AgentCard]
) -> None:
    rng = random.Random(SEED)
    book = Book()
    caller_rngs = [random.Random(rng.random()) for _ in range(WORKERS)]
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for n in range(JOBS):
        jobs.put_nowait(n)
    stop = asyncio.Event()
    proxies = list(system.proxies.values())

    async def worker(index: int) -> None:
        r = caller_rngs[index]
        caller = Caller(system, book, r)
        while not jobs.empty():
            n = jobs.get_nowait()
            roll = r.random()
            if roll < P_CONFLICT:
                await conflict(caller, book, r)
            elif roll < P_CONFLICT + P_REFUND:
                await refund_flow(caller, r, book, n)
            else:
                await question(caller, r, agent_cards)
        await caller.close()

    started = time.monotonic()
    async with asyncio.TaskGroup() as group:
        chaos = group.create_task(cut_connections(proxies, rng, stop, system.faults))
        async with asyncio.TaskGroup() as workers:
            for i in range(WORKERS):
                workers.create_task(worker(i))
        stop.set()
    await chaos
    elapsed = time.monotonic() - started

    effects: Counter[str] | None = None
    replays: int | None = None
    try:  # the figures are printed when a check fails too: they show how the run went
        await check_end_states(system, book)
        effects = await check_effects(system, book)
        await check_replays(system, book, rng)
        replays = len(await system.db.audit.query(kind=AuditKind.REPLAY, limit=1_000_000))
    finally:
        report(system, book, elapsed, effects, replays)


# -- checks -----------------------------------------------------------------------------------


FAILED_PART = "This part could not be answered:"


def outage_escalation(reply: supervisor_pb2.AskResponse) -> bool:
    """An escalation because the agent (every agent of a compound request) was down: not the
    request's final outcome, so the ledger does not keep it, and a retry of the same id is
    answered afresh."""
    if reply.status != common_pb2.ESCALATED:
        return False
    if reply.parts:
        return all(p.answer.startswith(FAILED_PART) for p in reply.parts)
    return reply.answer == UNAVAILABLE_MESSAGE.format(agent=reply.route.agent)


def stored_reply(final: Final) -> supervisor_pb2.AskResponse | None:
    """The reply a caller got, if it is one the ledger keeps (a final outcome)."""
    if final.reply is None or outage_escalation(final.reply):
        return None
    return final.reply


async def check_end_states(system: System, book: Book) -> None:
    """Each id ended exactly once: one stored answer, received by every caller that got one
    (or one clear error). Callers that were told the agent was down may have retried the id
    into that one answer; an id that only ever saw the agent down has nothing stored."""
    tenant = system.creds.tenant
    gave_up = [f for fs in book.finals.values() for f in fs if f.gave_up]
    assert not gave_up, f"{len(gave_up)} callers gave up, e.g. {gave_up[:3]}"
    for rid, finals in book.finals.items():
        for f in finals:
            if f.reply is not None:
                assert f.reply.request_id == rid
                assert common_pb2.Status.Name(f.reply.status) in END_STATUSES, f.reply
        kept = [r for f in finals if (r := stored_reply(f)) is not None]
        replies = {r.SerializeToString(deterministic=True) for r in kept}
        errors = {f.code for f in finals if f.reply is None}
        outages = [f for f in finals if f.reply is not None and outage_escalation(f.reply)]
        ends = len(replies) + len(errors)
        assert ends == 1 or (ends == 0 and outages), f"{rid} ended more than one way: {finals}"
        stored = await system.db.idempotency.get(tenant, rid)
        if replies:
            reply = kept[0]
            assert stored is not None and stored.state == "done", (rid, stored)
            assert stored.response is not None
            # the ledger keeps the result (JSON) the reply was made from
            assert result_to_proto(AskResult.model_validate_json(stored.response)) == reply
            assert stored.status == common_pb2.Status.Name(reply.status)
        else:
            # a clear error from the request itself, or the agent down: nothing stored,
            # nothing pending
            assert errors <= {Code.INVALID_ARGUMENT, Code.NOT_FOUND}, (rid, finals)
            assert stored is None, (rid, stored)
    for f in book.conflicts:  # a reused id is refused; the original answer stays
        assert f.code == Code.ALREADY_EXISTS, f


async def check_replays(system: System, book: Book, rng: random.Random) -> None:
    """A repeat (now, after the run) gets the stored answer byte for byte."""
    answered = {
        rid: reply
        for rid, fs in book.finals.items()
        if (reply := next((r for f in fs if (r := stored_reply(f)) is not None), None))
    }
    caller = Caller(system, book, rng)
    for rid in rng.sample(sorted(answered), min(150, len(answered))):
        final = await caller.ask(book.requests[rid])
        assert final.reply == answered[rid], rid
    await caller.close()


async def check_effects(system: System, book: Book) -> Counter[str]:
    """No refund ran twice; every "Done" answer stands for exactly one refund; and no tool
    step is left claimed after its tool ran (its lease would lapse and the refund run again).
    """
    tally: Counter[str] = Counter()
    by_reason = Counter[str]()
    for (_customer, _invoice, reason), n in system.backend.refunds.items():
        by_reason[reason] += n
    assert max(by_reason.values(), default=0) <= 1, by_reason.most_common(3)
    tenant = system.creds.tenant
    for jti, reason in book.actions.items():
        executed = by_reason[reason]
        tally["executed" if executed else "not executed"] += 1
        step = await system.agent_db.effects.get(f"action:{jti}", 1, tenant=tenant)
        assert (step is not None) == bool(executed), f"action {jti}: ran {executed}, step {step}"
    async with system.agent_db.sessions() as session:
        pending = (
            await session.scalars(select(ToolEffectRow).where(ToolEffectRow.state != "done"))
        ).all()
    assert not pending, [(r.request_id, r.step, r.state) for r in pending]
    await asyncio.sleep(0.5)  # the audit writers flush every 0.2 s
    for rid, jti in book.confirms.items():
        reply = book.finals[rid][0].reply
        if reply is not None and reply.answer.startswith("Done: refund request"):
            assert by_reason[book.actions[jti]] == 1, (rid, reply.answer)
            tally["confirmation answered done"] += 1
        elif reply is not None:
            for why in await escalation_reasons(system, rid):
                tally[f"confirmation escalated: {why}"] += 1
    # Only an injected fault may stop a confirmation (never "still running", say).
    prefix = "confirmation escalated: "
    causes = {k.removeprefix(prefix) for k in tally if k.startswith(prefix)}
    assert causes <= set(ESCALATION_CAUSES.values()), causes
    return tally


#: What an agent call that failed because of an injected fault says (gRPC's wording varies
#: with the moment a connection is cut).
ESCALATION_CAUSES = {
    "circuit breaker is open": "breaker open",
    "injected": "injected UNAVAILABLE",
    **dict.fromkeys(
        [
            "Socket closed",
            "Stream removed",
            "Connection reset",
            "Broken pipe",
            "failed to connect",
            "Connection refused",
            "GOAWAY",
            "End of TCP stream",
            "connections to all backends failing",
        ],
        "connection cut",
    ),
    "within the deadline": "deadline",
}


async def escalation_reasons(system: System, rid: str) -> list[str]:
    """Why the supervisor escalated a request, from its audit events."""
    events = await system.db.audit.query(request_id=rid, kind=AuditKind.ESCALATION)
    reasons = []
    for e in events:
        error = str(e.detail.get("error", e.outcome))
        causes = [cause for marker, cause in ESCALATION_CAUSES.items() if marker in error]
        reasons.append(causes[0] if causes else error[:80])
    return reasons


def report(
    system: System,
    book: Book,
    elapsed: float,
    effects: Counter[str] | None,
    replays: int | None,
) -> None:
    """The run in figures; ``effects`` and ``replays`` are None when a check failed first."""
    statuses = Counter(
        common_pb2.Status.Name(fs[0].reply.status) if fs[0].reply else fs[0].code.name
        for fs in book.finals.values()
    )
    duplicated = sum(1 for fs in book.finals.values() if len(fs) > 1)
    outages = sum(1 for fs in book.finals.values() for f in fs if f.reply and not stored_reply(f))
    quantiles = statistics.quantiles(book.latencies, n=100) if len(book.latencies) > 1 else []
    latency = ", ".join(f"p{q} {quantiles[q - 1]:.2f} s" for q in (50, 95, 99) if quantiles)
    most_attempts = max((f.attempts for fs in book.finals.values() for f in fs), default=0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"\nfault run: {len(book.finals)} request ids ({duplicated} sent by two callers at "
        f"once, {len(book.conflicts)} reused ids), {book.attempts} calls in {elapsed:.1f} s"
        f"\n  end states: {dict(statuses)}; escalated as the agent was down (not kept): "
        f"{outages}"
        f"\n  replies in {latency} (call deadline {CALL_TIMEOUT_S} s); most attempts for one "
        f"request: {most_attempts}"
        f"\n  retries: {dict(book.retries)}; short deadlines: {book.short_deadlines}; "
        f"answers replayed from the store: {'not checked' if replays is None else replays}"
        f"\n  faults: {dict(system.faults)}"
        f"\n  this process used {cpu:.1f} s of CPU since it started; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a slow run: starved or busy?)"
        f"\n  refunds: {len(book.actions)} proposed, "
        f"{'not checked' if effects is None else dict(effects)}"
    )


# -- the store behaviours the run relies on, pinned down one by one ---------------------------


async def test_an_answer_that_could_not_be_stored_is_not_handed_out(tmp_path: Path) -> None:
    """Else the caller holds an answer a repeat cannot get back (it would run again)."""
    store = await open_sqlite_store(tmp_path)

    class CompleteFailsOnce(IdempotencyStore):
        failed = False

        async def complete(
            self, claim: Claim, response: bytes, *, status: str | None = None
        ) -> bool:
            if not self.failed:
                self.failed = True
                raise StoreError("database is locked")
            return await super().complete(claim, response, status=status)

    ledger = RequestLedger(CompleteFailsOnce(store.sessions))
    ctx = RequestContext(request_id="r1", tenant="acme")
    runs = 0

    def result(n: int) -> AskResult:
        return AskResult(request_id="r1", outcome=Outcome.ANSWERED, answer=f"answer {n}")

    async def produce() -> AskResult:
        nonlocal runs
        runs += 1
        return result(runs)

    try:
        with pytest.raises(errors.Unavailable, match="could not be stored"):
            await ledger.run(ctx, "fp", produce)
        # the claim was given up: the retry runs once more, and its answer is the one kept
        assert await ledger.run(ctx, "fp", produce) == (result(2), False)
        assert await ledger.run(ctx, "fp", produce) == (result(2), True)
    finally:
        await store.close()


async def test_a_tool_step_is_recorded_even_if_cancelled_after_the_tool_ran(
    tmp_path: Path,
) -> None:
    """A cancelled step whose tool ran is stored as done: a retry replays, never reruns."""
    store = await open_sqlite_store(tmp_path)
    calls = 0

    async def refund() -> JsonValue:
        nonlocal calls
        calls += 1
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # the caller goes away just as the tool returns
        return {"id": "RR-1"}

    try:
        with pytest.raises(asyncio.CancelledError):
            await store.effects.run_once("action:a1", 1, "request_refund", {}, refund)
        # no wait: the cancelled call ended only once the tool's result was stored
        again = await store.effects.run_once("action:a1", 1, "request_refund", {}, refund)
        assert again.replayed and again.result == {"id": "RR-1"} and calls == 1
    finally:
        await store.close()
