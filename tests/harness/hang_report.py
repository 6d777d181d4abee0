"""What a stuck async test was waiting on, printed before pytest-timeout ends the run.

pytest-timeout's ``thread`` method prints every thread's stack, but a hung async test shows
only its event loop idling in ``select``: the waiting is in tasks, not threads. So, a few
seconds before that timeout, this prints every live asyncio task with the chain of awaits it
is suspended in (read from another thread while the loop idles: a diagnostic, not an API).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from typing import Any

import pytest

BEFORE_TIMEOUT_S = 10.0
_TIMER = pytest.StashKey[threading.Timer]()


def _await_chain(task: asyncio.Task[Any]) -> str:
    lines: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:
            lines.append(f"    awaiting {type(awaited).__name__}: {repr(awaited)[:160]}")
            break
        lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return "\n".join(lines)


def report_tasks(nodeid: str) -> None:
    for _ in range(3):  # the set may change under us; it is a diagnostic
        try:
            tasks = [t for t in list(getattr(asyncio.tasks, "_all_tasks", ())) if not t.done()]
            break
        except RuntimeError:
            continue
    else:
        return
    chains = Counter(_await_chain(t) for t in tasks)
    out = [f"\n+++ {nodeid}: about to time out; {len(tasks)} asyncio tasks still waiting +++"]
    out += [f"--- {n} task(s):\n{chain}" for chain, n in chains.most_common()]
    print("\n".join(out), file=sys.stderr, flush=True)


def set_timer(item: pytest.Item, timeout: float) -> None:
    if timeout <= 2 * BEFORE_TIMEOUT_S:
        return
    timer = threading.Timer(timeout - BEFORE_TIMEOUT_S, report_tasks, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    item.stash[_TIMER] = timer


def cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_TIMER, None)
    if timer is not None:
        timer.cancel()
