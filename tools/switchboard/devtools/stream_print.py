"""Prints an AskStream as it arrives (``switchboard ask --stream``, the demo).

The answer's text (part 0) is printed the moment each delta arrives; a reset is shown as a
line saying the answer is being rewritten, then the new text follows; for a compound request
each agent's start is shown, then the merged answer streams. At the end, the final event's
summary (status, sources, usage) and the time to the first text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from switchboard.v1 import common_pb2, supervisor_pb2


async def print_stream(
    events: AsyncIterator[supervisor_pb2.AskEvent], out: TextIO = sys.stdout
) -> supervisor_pb2.AskResponse | None:
    """Prints the stream; returns its final response (None if it ended without one)."""
    started = time.perf_counter()
    first: float | None = None
    open_line = False
    async for event in events:
        kind = event.WhichOneof("event")
        if kind == "route":
            r = event.route
            out.write(
                f"   route: {r.method} -> {r.agent or ', '.join(p.agent for p in r.parts) or '-'}\n"
            )
        elif kind == "agent_started" and event.agent_started.part:
            s = event.agent_started
            out.write(f"   part {s.part}: {s.agent} <- {s.part_text!r}\n")
        elif kind == "text" and event.text.part == 0:
            if first is None:
                first = time.perf_counter() - started
                out.write("   | ")
            out.write(event.text.text.replace("\n", "\n   | "))
            open_line = True
        elif kind == "reset" and event.reset.part == 0 and open_line:
            out.write(f"\n   (rewritten: {event.reset.reason})\n   | ")
        elif kind == "pending_action":
            out.write(f"\n   pending action: {event.pending_action.action.summary}")
        elif kind == "final":
            f = event.final
            elapsed = (time.perf_counter() - started) * 1000
            ttft = f"{first * 1000:.0f}ms" if first is not None else "-"
            out.write(
                f"\n   agent={f.agent or '-'} status={common_pb2.Status.Name(f.status)} "
                f"ttft={ttft} total={elapsed:.0f}ms trace_id={f.trace_id}\n"
            )
            for i, c in enumerate(f.citations, start=1):
                out.write(f"   [{i}] {c.title} ({c.source_id}, score {c.score:.2f})\n")
            u = f.usage
            out.write(
                f"   usage: {u.input_tokens} in / {u.output_tokens} out tokens, ${u.cost_usd:.4f}\n"
            )
            out.flush()
            return f
        out.flush()
    return None
