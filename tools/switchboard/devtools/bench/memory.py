"""What conversation memory adds to a turn (docs/memory.md): reading the session's
conversation before routing and handing over the answered turn with the extractive summary,
over 20-turn conversations, on SQLite and (when reachable) PostgreSQL. The turn is written
after its answer has gone out, so the write is reported apart (``write_p50_ms``): it costs
the store, not the caller. Between turns the bench lets the write land, as the seconds a
person takes to read an answer do.

Store statements are counted by the repository (``Conversations.reads`` / ``.writes``: a
read is a SELECT, a write one grouped transaction), so the figure says how much I/O a turn
costs as well as how long it takes. Target: under 3 ms p50 on SQLite.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from switchboard.core.context import Deadline, RequestContext
from switchboard.core.settings import MemorySettings
from switchboard.core.types import Citation, Outcome
from switchboard.store import Store, StoreSettings, normalise_url
from switchboard.supervisor.memory.conversation import ConversationMemory
from switchboard.supervisor.memory.summary import ExtractiveSummarizer
from switchboard.supervisor.results import AskResult

TURNS = 20
QUESTION = "We're on the annual Business plan. How long does a refund take to reach my card?"
ANSWER = (
    "Offline answer (no LLM was used; quoted from the knowledge base):\n- Card refunds usually "
    "appear within 5 to 10 business days, depending on your bank. [1]\n- Approved refunds go "
    "back to the original payment method. [1]"
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(url: str, conversations: int) -> dict[str, Any]:
    settings = StoreSettings(database_url=None)
    store = await Store.open(settings, url=url)
    memory = ConversationMemory(store.conversations, MemorySettings(), ExtractiveSummarizer(1200))
    times: list[float] = []
    loop = asyncio.get_running_loop()
    try:
        for c in range(conversations + 1):  # the first conversation warms up
            for turn in range(TURNS):
                ctx = RequestContext(
                    request_id=f"bench-{c}-{turn}",
                    tenant="bench",
                    session_id=f"bench-{c}",
                    user_id="u1",
                    deadline=Deadline.after(5.0),
                )
                result = AskResult(
                    request_id=ctx.request_id,
                    outcome=Outcome.DEGRADED,
                    answer=ANSWER,
                    agent="billing",
                    citations=[
                        Citation(source_id="refund-policy.md", title="", snippet="", score=0.5)
                    ],
                )
                if c == 1 and turn == 0:
                    store.conversations.reads = store.conversations.writes = 0
                t0 = loop.time()
                recall = await memory.recall(ctx)
                await memory.finish(ctx, recall, f"{QUESTION} ({turn})", result)
                if c > 0:
                    times.append((loop.time() - t0) * 1000)
                await memory.flush()  # the person reads the answer; the turn lands
        counted = conversations * TURNS
        return {
            "turns": counted,
            "p50_ms": round(statistics.median(times), 3),
            "p99_ms": round(_percentile(times, 0.99), 3),
            "write_p50_ms": round(statistics.median(list(memory.write_ms)[-counted:]), 3),
            "reads_per_turn": round(store.conversations.reads / counted, 2),
            "writes_per_turn": round(store.conversations.writes / counted, 2),
            "failures": memory.failures,
        }
    finally:
        await memory.close()
        await store.close()


def memory_per_turn(conversations: int = 10) -> dict[str, Any]:
    from switchboard.devtools.bench.system import _postgres_database

    report: dict[str, Any] = {"conversation_turns": TURNS}
    with tempfile.TemporaryDirectory(prefix="sb-bench-memory-") as tmp:
        url = StoreSettings(database_url=None).url(Path(tmp))
        report["sqlite"] = asyncio.run(_measure(url, conversations))
    with _postgres_database() as pg_url:
        if pg_url is not None:
            report["postgresql"] = asyncio.run(_measure(normalise_url(pg_url), conversations))
    for backend in ("sqlite", "postgresql"):
        if backend in report:
            r = report[backend]
            print(
                f"  memory per turn ({backend}): p50 {r['p50_ms']:.2f} ms, "
                f"p99 {r['p99_ms']:.2f} ms on the answer path (target p50 < 3 ms); "
                f"the write after the answer p50 {r['write_p50_ms']:.2f} ms; "
                f"{r['reads_per_turn']} reads + {r['writes_per_turn']} writes"
            )
    return report
