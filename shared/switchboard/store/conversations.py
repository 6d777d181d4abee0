"""Conversation memory in the durable store: each session's answered turns and the running
summary of the turns that left the verbatim window (docs/memory.md).

Keyed by (tenant, session_id), so a follow-up sees the same conversation on any supervisor
replica and no tenant ever reads another's. A conversation idle past its TTL is over: the
next turn starts afresh (its old turns are deleted in the same transaction) and
``db purge`` removes what nobody came back to. At most ``max_turns`` turns are kept per
session; older ones live on only in the summary. ``forget_*`` erase a session or everything
about an end user.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, false, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store._conversation_parts import (
    ConversationListing,
    StoredConversation,
    StoredTurn,
    count_of,
    delete_turns,
    start_conversation,
    stored_turn,
)
from switchboard.store.models import ConversationRow, ConversationTurnRow
from switchboard.store.writer import GroupWriter, write

# Core tables: the request path's writes skip the ORM's bulk-statement machinery.
_CONVERSATIONS = cast(Table, ConversationRow.__table__)
_TURNS = cast(Table, ConversationTurnRow.__table__)


class Conversations:
    """``conversations`` and ``conversation_turns``. Failures raise ``StoreError``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], writer: GroupWriter | None = None
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self.reads = 0  # statements issued (the bench reports them per turn)
        self.writes = 0

    async def load(
        self, tenant: str, session_id: str, *, recent: int, now: datetime | None = None
    ) -> StoredConversation | None:
        """The session's state and its ``recent`` last turns; None when never seen.

        One statement (one round trip on the answer path): the conversation row joined to
        its last ``recent`` turns, one result row per turn (a single row with no turn
        columns when it has none)."""
        now = now or utcnow()
        c, t = _CONVERSATIONS.c, _TURNS.c
        last = (
            select(
                t.seq,
                t.user_text,
                t.answer,
                t.agent,
                t.sources,
                t.status,
                t.pending_action,
                t.request_id,
                t.input_tokens,
                t.output_tokens,
                t.created_at,
            )
            .where(t.tenant == tenant, t.session_id == session_id)
            .order_by(t.seq.desc())
            .limit(recent)
            .subquery()
        )
        stmt = (
            select(c.user_id, c.turns, c.summary, c.summarized, c.updated_at, c.expires_at, last)
            .select_from(_CONVERSATIONS.outerjoin(last, true()))
            .where(c.tenant == tenant, c.session_id == session_id)
            .order_by(last.c.seq)
        )
        async with store_errors("reading the conversation"), self._sessions() as session:
            self.reads += 1
            rows = (await session.execute(stmt)).all()
        if not rows:
            return None
        row = rows[0]
        live = bool(row.expires_at > now)
        turns = [stored_turn(r) for r in rows if live and r.seq is not None]
        return StoredConversation(
            user_id=row.user_id,
            turns=row.turns if live else 0,
            summary=row.summary if live else "",
            summarized=row.summarized if live else 0,
            live=live,
            updated_at=row.updated_at,
            recent=turns,
        )

    async def append(
        self,
        tenant: str,
        session_id: str,
        user_id: str,
        turn: StoredTurn,
        *,
        summary: str,
        summarized: int,
        ttl_s: float,
        max_turns: int,
        now: datetime | None = None,
    ) -> int:
        """Stores one answered turn and the summary as of it; returns the turn's number.

        One transaction: the conversation row (created, taken over when expired, or
        advanced), the turn, and the turns past ``max_turns`` deleted.
        """
        now = now or utcnow()
        expires = now + timedelta(seconds=ttl_s)

        async def op(session: AsyncSession) -> int:
            self.writes += 1
            c = ConversationRow.__table__.c
            # The common case, one statement: a live conversation moves on by one turn.
            advanced = await session.execute(
                update(_CONVERSATIONS)
                .where(c.tenant == tenant, c.session_id == session_id, c.expires_at > now)
                .values(
                    turns=c.turns + 1,
                    summary=summary,  # the caller's, from the conversation it loaded
                    summarized=summarized,
                    updated_at=now,
                    expires_at=expires,
                )
                .returning(c.turns)
            )
            seq = advanced.scalar_one_or_none()
            if seq is None:
                seq = await start_conversation(session, tenant, session_id, user_id, now, expires)
                await session.execute(
                    update(_CONVERSATIONS)
                    .where(c.tenant == tenant, c.session_id == session_id)
                    .values(summary=summary, summarized=min(summarized, 1))
                )
            await session.execute(
                insert(_TURNS).values(
                    tenant=tenant,
                    session_id=session_id,
                    user_id=user_id,
                    seq=seq,
                    request_id=turn.request_id,
                    user_text=turn.user_text,
                    answer=turn.answer,
                    agent=turn.agent,
                    sources=list(turn.sources),
                    status=turn.status,
                    pending_action=turn.pending_action,
                    input_tokens=turn.input_tokens,
                    output_tokens=turn.output_tokens,
                    created_at=now,
                    expires_at=expires,
                )
            )
            if seq > max_turns:
                await session.execute(
                    delete(_TURNS).where(
                        ConversationTurnRow.__table__.c.tenant == tenant,
                        ConversationTurnRow.__table__.c.session_id == session_id,
                        ConversationTurnRow.__table__.c.seq <= seq - max_turns,
                    )
                )
            return int(seq)

        return await write(self._writer, self._sessions, "saving the conversation turn", op)

    async def list_user(
        self, tenant: str, user_id: str, *, recent: int = 50, now: datetime | None = None
    ) -> list[ConversationListing]:
        """The end user's live conversations with their last turns, newest first."""
        now = now or utcnow()
        async with store_errors("listing conversations"), self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ConversationRow)
                    .where(
                        ConversationRow.tenant == tenant,
                        ConversationRow.user_id == user_id,
                        ConversationRow.expires_at > now,
                    )
                    .order_by(ConversationRow.updated_at.desc())
                )
            ).all()
            out: list[ConversationListing] = []
            for row in rows:
                turns = await session.scalars(
                    select(ConversationTurnRow)
                    .where(
                        ConversationTurnRow.tenant == tenant,
                        ConversationTurnRow.session_id == row.session_id,
                    )
                    .order_by(ConversationTurnRow.seq.desc())
                    .limit(recent)
                )
                out.append(
                    ConversationListing(
                        row.session_id,
                        row.turns,
                        row.summary,
                        row.updated_at,
                        row.expires_at,
                        [stored_turn(t) for t in reversed(turns.all())],
                    )
                )
        return out

    async def footprint(
        self, tenant: str, *, session_id: str = "", user_id: str = ""
    ) -> tuple[list[str], list[str]]:
        """(session ids, request ids) stored for a session or for an end user: what else to
        erase with them (routing state, example candidates)."""
        async with store_errors("reading a conversation's footprint"), self._sessions() as session:
            if session_id:
                sessions = [session_id]
            else:
                found = await session.scalars(
                    select(ConversationRow.session_id).where(
                        ConversationRow.tenant == tenant, ConversationRow.user_id == user_id
                    )
                )
                sessions = list(found.all())
            which = or_(
                ConversationTurnRow.session_id.in_(sessions),
                ConversationTurnRow.user_id == user_id if user_id else false(),
            )
            requests = await session.scalars(
                select(ConversationTurnRow.request_id).where(
                    ConversationTurnRow.tenant == tenant, which
                )
            )
            return sessions, sorted({r for r in requests.all() if r})

    async def forget_session(self, tenant: str, session_id: str) -> int:
        """Deletes a session's turns and summary; returns the rows deleted."""
        async with store_errors("forgetting a session"), self._sessions.begin() as session:
            n = await delete_turns(session, tenant, session_id)
            result = await session.execute(
                delete(ConversationRow).where(
                    ConversationRow.tenant == tenant, ConversationRow.session_id == session_id
                )
            )
        return n + count_of(result)

    async def forget_user(self, tenant: str, user_id: str) -> int:
        """Deletes every turn and conversation of an end user in a tenant."""
        if not user_id:
            raise ValueError("forget_user needs a user id")
        async with store_errors("forgetting a user"), self._sessions.begin() as session:
            sessions = select(ConversationRow.session_id).where(
                ConversationRow.tenant == tenant, ConversationRow.user_id == user_id
            )
            turns = await session.execute(
                delete(ConversationTurnRow).where(
                    ConversationTurnRow.tenant == tenant,
                    (ConversationTurnRow.user_id == user_id)
                    | ConversationTurnRow.session_id.in_(sessions),
                )
            )
            convs = await session.execute(
                delete(ConversationRow).where(
                    ConversationRow.tenant == tenant, ConversationRow.user_id == user_id
                )
            )
        return count_of(turns) + count_of(convs)

    async def count_user(self, tenant: str, user_id: str) -> int:
        """Rows held about an end user (turns and conversations); 0 after ``forget_user``."""
        async with store_errors("counting a user's rows"), self._sessions() as session:
            turns = await session.scalar(
                select(func.count()).where(
                    ConversationTurnRow.tenant == tenant, ConversationTurnRow.user_id == user_id
                )
            )
            convs = await session.scalar(
                select(func.count()).where(
                    ConversationRow.tenant == tenant, ConversationRow.user_id == user_id
                )
            )
        return int(turns or 0) + int(convs or 0)

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with store_errors("purging conversations"), self._sessions.begin() as session:
            turns = await session.execute(
                delete(ConversationTurnRow).where(ConversationTurnRow.expires_at <= now)
            )
            convs = await session.execute(
                delete(ConversationRow).where(ConversationRow.expires_at <= now)
            )
        return count_of(turns) + count_of(convs)


__all__ = ["ConversationListing", "Conversations", "StoredConversation", "StoredTurn"]
