"""Long-term memory in the durable store: facts end users stated about themselves, per
tenant and user, with their embeddings, the turn they came from and an expiry.

Kept here rather than in an agent's Chroma collection: the namespace is a WHERE clause on
(tenant, user_id), erasure happens in the same database as the user's turns, and a user has
a handful of facts, so ranking them by cosine in Python costs microseconds (docs/memory.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store.models import UserMemoryRow
from switchboard.store.writer import GroupWriter, write


@dataclass(frozen=True)
class UserMemory:
    fact: str
    vector: bytes | None
    source_session: str
    source_request: str
    created_at: datetime
    expires_at: datetime


def fact_hash(fact: str) -> str:
    return hashlib.sha256(" ".join(fact.lower().split()).encode()).hexdigest()


class UserMemories:
    """``user_memories``. Failures raise ``StoreError``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], writer: GroupWriter | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer

    async def remember(
        self,
        tenant: str,
        user_id: str,
        facts: Sequence[tuple[str, bytes | None]],
        *,
        session_id: str,
        request_id: str,
        ttl_s: float,
        now: datetime | None = None,
    ) -> None:
        """Stores facts (a fact stated again is refreshed: new source, new expiry)."""
        if not facts or not user_id:
            return
        now = now or utcnow()
        rows: list[dict[str, object]] = [
            {
                "tenant": tenant,
                "user_id": user_id,
                "fact": fact,
                "fact_hash": fact_hash(fact),
                "vector": vector,
                "source_session": session_id,
                "source_request": request_id,
                "created_at": now,
                "expires_at": now + timedelta(seconds=ttl_s),
            }
            for fact, vector in facts
        ]

        async def op(session: AsyncSession) -> None:
            for row in rows:
                await session.execute(_upsert(session, row))

        await write(self._writer, self._sessions, "saving user memories", op)

    async def recall(
        self, tenant: str, user_id: str, *, now: datetime | None = None
    ) -> list[UserMemory]:
        """The user's live facts in this tenant, newest first (never another tenant's)."""
        if not user_id:
            return []
        now = now or utcnow()
        async with store_errors("reading user memories"), self._sessions() as session:
            rows = await session.scalars(
                select(UserMemoryRow)
                .where(
                    UserMemoryRow.tenant == tenant,
                    UserMemoryRow.user_id == user_id,
                    UserMemoryRow.expires_at > now,
                )
                .order_by(UserMemoryRow.created_at.desc())
                .limit(200)
            )
            return [
                UserMemory(
                    r.fact, r.vector, r.source_session, r.source_request, r.created_at, r.expires_at
                )
                for r in rows.all()
            ]

    async def forget_user(self, tenant: str, user_id: str) -> int:
        async with store_errors("forgetting user memories"), self._sessions.begin() as session:
            result = await session.execute(
                delete(UserMemoryRow).where(
                    UserMemoryRow.tenant == tenant, UserMemoryRow.user_id == user_id
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget_session(self, tenant: str, session_id: str) -> int:
        """Deletes the facts stated in one session."""
        async with store_errors("forgetting user memories"), self._sessions.begin() as session:
            result = await session.execute(
                delete(UserMemoryRow).where(
                    UserMemoryRow.tenant == tenant, UserMemoryRow.source_session == session_id
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def count_user(self, tenant: str, user_id: str) -> int:
        async with store_errors("counting user memories"), self._sessions() as session:
            n = await session.scalar(
                select(func.count()).where(
                    UserMemoryRow.tenant == tenant, UserMemoryRow.user_id == user_id
                )
            )
        return int(n or 0)

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with store_errors("purging user memories"), self._sessions.begin() as session:
            result = await session.execute(
                delete(UserMemoryRow).where(UserMemoryRow.expires_at <= now)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _upsert(session: AsyncSession, values: dict[str, object]) -> Insert:
    stmt: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(UserMemoryRow).values(values)
    else:
        stmt = sqlite.insert(UserMemoryRow).values(values)
    return stmt.on_conflict_do_update(
        index_elements=["tenant", "user_id", "fact_hash"],
        set_={
            "vector": stmt.excluded.vector,
            "source_session": stmt.excluded.source_session,
            "source_request": stmt.excluded.source_request,
            "created_at": stmt.excluded.created_at,
            "expires_at": stmt.excluded.expires_at,
        },
    )
