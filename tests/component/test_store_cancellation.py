"""A task cancelled in the middle of an SQLite statement must not leave the database locked.

This was a defect (found through the fault run, ``test_fault_run.py``, about one run in 15 on
a 2-core machine: an agent's tool-result writes failed every 10 s for three minutes, and the
refund confirmations that needed them ran out of time). SQLAlchemy throws away the cancelled
task's connection and closes it, but while a cursor of it holds an unfinished statement (the
cancelled query's result, unread), SQLite's close only marks it a zombie and its transaction
keeps the write lock until Python's cycle collector frees that cursor. The store's
connections now roll back before closing (``switchboard.store.database.RollbackOnClose``).
Store calls are cancelled mid-statement easily: ``asyncio.timeout`` around them (the example
recorder's 0.5 s, working memory, the ledger), a caller's deadline, a dropped connection.

The cycle collector is paused so the outcome does not depend on when it runs; without the
rollback the second write fails "database is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
from pathlib import Path

from sqlalchemy import text

from switchboard.store.database import RollbackOnClose
from tests.harness.store import open_sqlite_store

SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
    "SELECT count(*) FROM c"
)


async def test_a_task_cancelled_mid_statement_leaves_the_database_writable(
    tmp_path: Path,
) -> None:
    store = await open_sqlite_store(tmp_path, db_timeout_s=0.5)
    gc.disable()
    try:
        async with store.sessions.begin() as s:
            await s.execute(text("CREATE TABLE scratch (x INTEGER)"))

        async def write_then_compute() -> None:
            async with store.sessions.begin() as s:
                await s.execute(text("INSERT INTO scratch VALUES (1)"))
                await s.execute(text(SLOW))  # still running when it is cancelled

        task = asyncio.create_task(write_then_compute())
        await asyncio.sleep(0.3)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Long enough for the statement to end: once cancelled, a statement still runs to its
        # end in aiosqlite's thread and holds the lock till then. After that, nothing should.
        await asyncio.sleep(2.0)
        async with store.sessions.begin() as s:  # the next write must not find it locked
            await s.execute(text("INSERT INTO scratch VALUES (2)"))
        async with store.sessions() as s:  # the cancelled write was rolled back, this one kept
            assert await s.scalar(text("SELECT group_concat(x) FROM scratch")) == "2"
    finally:
        gc.enable()
        gc.collect()
        await store.close()


def test_closing_a_connection_with_a_live_cursor_frees_the_write_lock(tmp_path: Path) -> None:
    """The cause, without asyncio or SQLAlchemy: a plain ``sqlite3`` connection closed while
    a cursor still holds an unfinished statement (a result row not yet read, as a cancelled
    query leaves it) keeps its transaction, and the lock; the store's does not."""
    path = tmp_path / "d.db"
    with contextlib.closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
        setup.commit()

    def write_after_closing(factory: type[sqlite3.Connection]) -> str:
        first = sqlite3.connect(path, timeout=0.2, factory=factory)
        first.execute("INSERT INTO t VALUES (1)")  # opens a transaction, left open
        cursor = first.execute("SELECT 1 UNION ALL SELECT 2")
        cursor.fetchone()  # unfinished: the second row is never read
        first.close()
        first.close()  # a second close is harmless, as with a plain connection
        with contextlib.closing(sqlite3.connect(path, timeout=0.2)) as second:
            try:
                second.execute("INSERT INTO t VALUES (2)")
                second.commit()
            except sqlite3.OperationalError as exc:
                return str(exc)
            finally:
                del cursor  # the zombie ends once its last cursor is gone
            return str(second.execute("SELECT group_concat(x) FROM t").fetchone()[0])

    gc.disable()
    try:
        assert write_after_closing(sqlite3.Connection) == "database is locked"
        assert write_after_closing(RollbackOnClose) == "2"
    finally:
        gc.enable()
