"""``make bench``: speed and load of the whole system, measured side by side in one run.

Figures are compared within one run on one machine, never against fixed times. The stacks
are the ``make run`` stack (three agents and a supervisor as separate processes on loopback):
one on the Claude path, whose anthropic SDK talks over loopback HTTP to a fake Messages API
in its own process (answering at once, or after 200 ms for the "at once" phase), and one
offline (no API key). A second supervisor on PostgreSQL shares the Claude stack's agents for
the burst. The load generator is a grpc.aio client built from ``protos/``. ``--full`` adds
the tracing-overhead and routing-cost figures (three more stacks). The streaming figures
(``bench/streaming.py``) run on their own stack, sized for 200 concurrent streams.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from switchboard.devtools.bench import micro
from switchboard.devtools.bench.memory import memory_per_turn
from switchboard.devtools.bench.streaming import streaming_report
from switchboard.devtools.bench.system import system_figures


def main(
    agents_dir: Path, out: Path, rounds: int, *, full: bool = False, streaming_only: bool = False
) -> int:
    if streaming_only:  # the streaming figures alone (``switchboard bench --streaming-only``)
        only: dict[str, Any] = {"streaming": streaming_report(agents_dir)}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(only, indent=2) + "\n")
        print(f"== Results written to {out}")
        return 0
    print("== Benchmarks")
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "embeddings": micro.embedding_throughput(),
    }
    report.update(system_figures(agents_dir))
    report["streaming"] = streaming_report(agents_dir)
    report["routing"] = {
        "in_process": micro.routing_in_process(agents_dir),
        "session_state_sqlite": micro.session_state_latency(),
    }
    report["memory"] = memory_per_turn()
    if full:
        report["tracing"] = micro.tracing_overhead(agents_dir, rounds)
        report["routing"]["end_to_end"] = micro.routing_end_to_end(agents_dir, rounds * 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"== Results written to {out}")
    return 0
