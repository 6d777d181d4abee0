"""Conversation state shared by supervisor replicas: the agent a session is talking to.

A follow-up turn may land on any replica, so the state lives in the database, keyed by
(tenant, session_id). It holds the agent of the last answered turn and that turn's query
embedding (no text); a row expires after the session TTL and ``db purge`` removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store.models import SessionStateRow
from switchboard.store.writer import GroupWriter, write


@dataclass(frozen=True)
class SessionState:
    agent: str
    last_vector: bytes | None  # float32 query embedding of the last answered turn
    turns: int
    updated_at: datetime
    expires_at: datetime


class SessionStates:
    """``session_state``: read and upsert by (tenant, session_id). Failures raise
    ``StoreError``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], writer: GroupWriter | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer  # saves join the store's grouped transactions

    async def get(
        self, tenant: str, session_id: str, *, now: datetime | None = None
    ) -> SessionState | None:
        """The live state of a session, or None (never seen, or expired)."""
        now = now or utcnow()
        async with store_errors("reading session state"), self._sessions() as session:
            row = (
                await session.scalars(
                    select(SessionStateRow).where(
                        SessionStateRow.tenant == tenant,
                        SessionStateRow.session_id == session_id,
                        SessionStateRow.expires_at > now,
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return SessionState(row.agent, row.last_vector, row.turns, row.updated_at, row.expires_at)

    async def save(
        self,
        tenant: str,
        session_id: str,
        agent: str,
        last_vector: bytes | None,
        *,
        ttl_s: float,
        now: datetime | None = None,
    ) -> None:
        """Records the agent of an answered turn (last writer wins; turns counted)."""
        now = now or utcnow()
        values: dict[str, Any] = {
            "tenant": tenant,
            "session_id": session_id,
            "agent": agent,
            "last_vector": last_vector,
            "turns": 1,
            "updated_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }

        async def op(session: AsyncSession) -> None:
            await session.execute(_upsert(session, values))

        await write(self._writer, self._sessions, "saving session state", op)

    async def forget(self, tenant: str, session_ids: list[str]) -> int:
        """Deletes the routing state of these sessions (erasure of a session or user)."""
        if not session_ids:
            return 0
        async with store_errors("forgetting session state"), self._sessions.begin() as session:
            result = await session.execute(
                delete(SessionStateRow).where(
                    SessionStateRow.tenant == tenant, SessionStateRow.session_id.in_(session_ids)
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with store_errors("purging session state"), self._sessions.begin() as session:
            result = await session.execute(
                delete(SessionStateRow).where(SessionStateRow.expires_at <= now)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _upsert(session: AsyncSession, values: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT (tenant, session_id) DO UPDATE, atomic on both backends.

    An expired row is taken over as a new session (its turn count starts again).
    """
    stmt: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(SessionStateRow).values(values)
    else:
        stmt = sqlite.insert(SessionStateRow).values(values)
    table = SessionStateRow.__table__.c
    turns = case((table.expires_at > stmt.excluded.updated_at, table.turns + 1), else_=1)
    return stmt.on_conflict_do_update(
        index_elements=["tenant", "session_id"],
        set_={
            "agent": stmt.excluded.agent,
            "last_vector": stmt.excluded.last_vector,
            "turns": turns,
            "updated_at": stmt.excluded.updated_at,
            "expires_at": stmt.excluded.expires_at,
        },
    )
