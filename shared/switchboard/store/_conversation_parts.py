"""What the conversation repository returns, and the statements it shares (a module of its
own so ``conversations.py`` stays readable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.store.models import ConversationRow, ConversationTurnRow


@dataclass(frozen=True)
class StoredTurn:
    seq: int
    user_text: str
    answer: str
    agent: str
    sources: list[str]
    status: str
    pending_action: dict[str, Any] | None = None
    request_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredConversation:
    """A session as stored: ``live`` is False when it expired (the next turn starts afresh)."""

    user_id: str
    turns: int
    summary: str
    summarized: int
    live: bool
    updated_at: datetime
    recent: list[StoredTurn] = field(default_factory=list)  # oldest first


@dataclass(frozen=True)
class ConversationListing:
    """One session of an end user, for inspection (``switchboard memory list``)."""

    session_id: str
    turns: int
    summary: str
    updated_at: datetime
    expires_at: datetime
    recent: list[StoredTurn]


async def start_conversation(
    session: AsyncSession,
    tenant: str,
    session_id: str,
    user_id: str,
    now: datetime,
    expires: datetime,
) -> int:
    """A new conversation, or an expired one taken over (its old turns deleted): turn 1."""
    row = (
        await session.scalars(
            select(ConversationRow).where(
                ConversationRow.tenant == tenant, ConversationRow.session_id == session_id
            )
        )
    ).one_or_none()
    if row is None:
        session.add(
            ConversationRow(
                tenant=tenant,
                session_id=session_id,
                user_id=user_id,
                turns=1,
                summary="",
                summarized=0,
                created_at=now,
                updated_at=now,
                expires_at=expires,
            )
        )
    else:
        await delete_turns(session, tenant, session_id)
        row.turns, row.summary, row.summarized, row.created_at = 1, "", 0, now
        row.updated_at, row.expires_at, row.user_id = now, expires, user_id or row.user_id
    await session.flush()
    return 1


async def delete_turns(session: AsyncSession, tenant: str, session_id: str) -> int:
    result = await session.execute(
        delete(ConversationTurnRow).where(
            ConversationTurnRow.tenant == tenant, ConversationTurnRow.session_id == session_id
        )
    )
    return count_of(result)


def count_of(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def stored_turn(row: Any) -> StoredTurn:
    """A turn from its ORM row or a result row with the same columns."""
    return StoredTurn(
        seq=row.seq,
        user_text=row.user_text,
        answer=row.answer,
        agent=row.agent,
        sources=list(row.sources or []),
        status=row.status,
        pending_action=row.pending_action,
        request_id=row.request_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        created_at=row.created_at,
    )
