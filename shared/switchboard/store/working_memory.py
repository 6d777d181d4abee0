"""Working memory in the durable store: one scratch-pad per request's tool loop.

Kept in the shared database, not in a process, because the confirmation that resumes a loop
may reach any replica, after a restart. Saved once per step (an upsert on (tenant,
request_id) that joins the store's group commit), found again by the action id it awaits,
deleted when the loop has finished. What a row holds: ``working_types.ScratchPad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Insert, delete, false, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store.models import WorkingMemoryRow
from switchboard.store.working_types import ScratchPad
from switchboard.store.writer import GroupWriter, write


class WorkingMemories:
    """``working_memory``. Failures raise ``StoreError``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], writer: GroupWriter | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer

    async def save(
        self, pad: ScratchPad, *, expires_at: datetime, now: datetime | None = None
    ) -> None:
        """Writes the pad of (tenant, request_id), replacing the one saved at the last step."""
        now = now or utcnow()
        values: dict[str, object] = {
            "tenant": pad.tenant,
            "request_id": pad.request_id,
            "agent": pad.agent,
            "session_id": pad.session_id,
            "user_id": pad.user_id,
            "customer_id": pad.customer_id,
            "action_id": pad.awaiting.action_id if pad.awaiting is not None else None,
            "state": pad.state,
            "pad": pad.stored(),
            "created_at": now,
            "updated_at": now,
            "expires_at": expires_at,
        }

        async def op(session: AsyncSession) -> None:
            await session.execute(_upsert(session, values))

        await write(self._writer, self._sessions, "saving working memory", op)

    async def load(
        self, tenant: str, action_id: str, *, now: datetime | None = None
    ) -> ScratchPad | None:
        """The live pad awaiting ``action_id`` in this tenant, or None."""
        return await self._one(
            "loading working memory",
            WorkingMemoryRow.tenant == tenant,
            WorkingMemoryRow.action_id == action_id,
            WorkingMemoryRow.expires_at > (now or utcnow()),
        )

    async def get(
        self, tenant: str, request_id: str, *, now: datetime | None = None
    ) -> ScratchPad | None:
        """The live pad of a request, or None."""
        return await self._one(
            "reading working memory",
            WorkingMemoryRow.tenant == tenant,
            WorkingMemoryRow.request_id == request_id,
            WorkingMemoryRow.expires_at > (now or utcnow()),
        )

    async def _one(self, what: str, *where: ColumnElement[bool]) -> ScratchPad | None:
        async with store_errors(what), self._sessions() as session:
            row = (await session.scalars(select(WorkingMemoryRow).where(*where))).first()
            if row is None:
                return None
            return ScratchPad.model_validate(
                {
                    **row.pad,
                    "created_at": row.created_at,
                    "updated_at": row.updated_at,
                    "expires_at": row.expires_at,
                }
            )

    async def delete(self, tenant: str, request_id: str) -> int:
        """Removes a request's pad (its loop has finished)."""
        async with store_errors("deleting working memory"), self._sessions.begin() as session:
            result = await session.execute(
                delete(WorkingMemoryRow).where(
                    WorkingMemoryRow.tenant == tenant, WorkingMemoryRow.request_id == request_id
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget(
        self,
        tenant: str,
        *,
        session_ids: Sequence[str] = (),
        user_id: str = "",
        request_ids: Sequence[str] = (),
    ) -> int:
        """Erasure: deletes the pads of these sessions, this end user or these requests."""
        which = or_(
            WorkingMemoryRow.session_id.in_(list(session_ids)) if session_ids else false(),
            WorkingMemoryRow.user_id == user_id if user_id else false(),
            WorkingMemoryRow.request_id.in_(list(request_ids)) if request_ids else false(),
        )
        async with store_errors("forgetting working memory"), self._sessions.begin() as session:
            result = await session.execute(
                delete(WorkingMemoryRow).where(WorkingMemoryRow.tenant == tenant, which)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with store_errors("purging working memory"), self._sessions.begin() as session:
            result = await session.execute(
                delete(WorkingMemoryRow).where(WorkingMemoryRow.expires_at <= now)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def _upsert(session: AsyncSession, values: dict[str, object]) -> Insert:
    """INSERT ... ON CONFLICT (tenant, request_id) DO UPDATE, atomic on both backends."""
    stmt: postgresql.Insert | sqlite.Insert
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(WorkingMemoryRow).values(values)
    else:
        stmt = sqlite.insert(WorkingMemoryRow).values(values)
    return stmt.on_conflict_do_update(
        index_elements=["tenant", "request_id"],
        set_={
            name: getattr(stmt.excluded, name)
            for name in ("action_id", "state", "pad", "updated_at", "expires_at")
        },
    )
