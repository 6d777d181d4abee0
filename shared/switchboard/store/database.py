"""The store object: one async engine and its repositories, created from settings."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from types import TracebackType
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from switchboard.store.audit import AuditLog
from switchboard.store.conversations import Conversations
from switchboard.store.effects import ToolEffects
from switchboard.store.errors import StoreError
from switchboard.store.examples import ExampleCandidates
from switchboard.store.feedback import FeedbackLog, KnowledgeGaps
from switchboard.store.idempotency import IdempotencyStore
from switchboard.store.migrate import migrate
from switchboard.store.prompts import PromptRegistry
from switchboard.store.review import ReviewItems
from switchboard.store.sessions import SessionStates
from switchboard.store.settings import StoreSettings, is_sqlite, safe_url, sqlite_path
from switchboard.store.user_memories import UserMemories
from switchboard.store.working_memory import WorkingMemories
from switchboard.store.writer import GroupWriter

log = logging.getLogger(__name__)


class RollbackOnClose(sqlite3.Connection):
    """An SQLite connection that rolls back its open transaction when it is closed.

    Why: SQLAlchemy throws away a connection whose statement was cancelled (an
    ``asyncio.timeout``, a caller's deadline, a dropped call) and closes it. While a cursor of
    it still holds an unfinished statement (the cancelled query's result, unread, kept by the
    task's frames until the cycle collector runs), ``sqlite3_close_v2`` only marks the
    connection a zombie: its transaction, and SQLite's write lock with it, live on until the
    cursor is collected. Every write of the process then failed "database is locked" for
    minutes. A rollback first ends the transaction at once (pending reads are aborted), so the
    close frees the lock whatever still points at the connection. Closing twice stays
    harmless, as with a plain connection. ``tests/component/test_store_cancellation.py``.
    """

    def close(self) -> None:
        try:
            self.rollback()  # a no-op outside a transaction
        except sqlite3.ProgrammingError:  # already closed: nothing to roll back
            pass
        finally:
            super().close()


def create_engine(url: str, settings: StoreSettings) -> AsyncEngine:
    """An async engine tuned for the backend: WAL and a busy timeout on SQLite, a pool on PG."""
    if is_sqlite(url):
        # One connection per process: SQLite runs one writer at a time anyway, and a pool of
        # connections makes them wait in SQLite's busy handler, which is unfair (a long
        # waiter polls every 100 ms while newcomers poll every few ms), so under load some
        # writes starved for seconds. The pool's queue is first come, first served.
        engine = create_async_engine(
            url,
            connect_args={"timeout": settings.db_timeout_s, "factory": RollbackOnClose},
            pool_pre_ping=False,
            pool_size=1,
            max_overflow=0,
            pool_timeout=settings.db_timeout_s,
        )
        busy_ms = int(settings.db_timeout_s * 1000)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.db_timeout_s,
        connect_args={"timeout": settings.db_timeout_s},
    )


class Store:
    """The durable store. Create with :meth:`open`; :meth:`close` it on shutdown.

    ``store.audit``, ``store.idempotency``, ``store.effects``, ``store.session_states`` and
    ``store.examples``, ``store.review``, ``store.feedback``, ``store.gaps`` and the memory
    repositories (``store.conversations``, ``store.user_memories``, ``store.working_memory``)
    share one engine.
    """

    def __init__(self, engine: AsyncEngine, settings: StoreSettings) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )
        # One writer on SQLite (one file lock); a few on PostgreSQL, sharing the pool.
        self.writer = GroupWriter(
            self.sessions,
            writers=1 if engine.dialect.name == "sqlite" else settings.db_writers,
            max_batch=settings.db_write_batch,
        )
        self.audit = AuditLog(self.sessions, self.writer)
        self.idempotency = IdempotencyStore(
            self.sessions,
            window_s=self.settings.idempotency_window_s,
            lease_s=self.settings.idempotency_lease_s,
            writer=self.writer,
        )
        self.effects = ToolEffects(
            self.sessions, lease_s=self.settings.idempotency_lease_s, writer=self.writer
        )
        self.session_states = SessionStates(self.sessions, self.writer)
        self.examples = ExampleCandidates(self.sessions)
        self.review = ReviewItems(self.sessions)
        self.feedback = FeedbackLog(self.sessions)
        self.gaps = KnowledgeGaps(self.sessions)
        self.prompts = PromptRegistry(self.sessions)
        self.conversations = Conversations(self.sessions, self.writer)
        self.user_memories = UserMemories(self.sessions, self.writer)
        self.working_memory = WorkingMemories(self.sessions, self.writer)

    @classmethod
    async def open(cls, settings: StoreSettings, *, url: str, upgrade: bool = True) -> Store:
        """Connects to ``url`` (``settings.url(data_dir)``), creating the SQLite folder, and
        unless ``upgrade=False`` migrates to the latest schema."""
        path = sqlite_path(url)
        if path is not None:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        engine = create_engine(url, settings)
        try:
            if upgrade:
                await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        log.info("store opened", extra={"database": safe_url(url)})
        return cls(engine, settings)

    async def ping(self) -> bool:
        """True when the database answers (for health checks); never raises."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def purge(self) -> dict[str, int]:
        """Removes expired idempotency records, session state, conversations, user facts and
        tool-loop scratch-pads, and audit rows and example candidates past their retention."""
        try:
            return {
                "audit_events": await self.audit.purge(
                    older_than_s=self.settings.audit_retention_days * 86400
                ),
                "request_results": await self.idempotency.purge_expired(),
                "tool_effects": await self.effects.purge(
                    older_than_s=self.settings.idempotency_window_s
                    + self.settings.idempotency_lease_s
                ),
                "session_state": await self.session_states.purge_expired(),
                "conversations": await self.conversations.purge_expired(),
                "user_memories": await self.user_memories.purge_expired(),
                "working_memory": await self.working_memory.purge_expired(),
                "example_candidates": await self.examples.purge(
                    older_than_s=self.settings.example_retention_days * 86400
                ),
                "review_items": await self.review.purge(
                    older_than_s=self.settings.review_retention_days * 86400
                ),
            }
        except StoreError:
            raise
        except (SQLAlchemyError, OSError) as exc:  # pragma: no cover - repositories wrap
            raise StoreError(str(exc)) from exc

    async def close(self) -> None:
        await self.writer.close()
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
