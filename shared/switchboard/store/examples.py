"""Candidate routing examples, learned from traffic and reviewed by a person.

The supervisor proposes a candidate when Claude chose the agent (``source="llm"``, status
``pending``), or when a request needed clarification or was escalated (status
``unresolved``: a person names the right agent with ``switchboard examples confirm``, which
makes it ``pending`` with ``source="person"``). A person then accepts or rejects pending
candidates; ``switchboard examples apply`` writes accepted ones into the agents' configs and
marks them ``applied``. Nothing reaches routing without that review.

This is the one table that stores request text. Recording is switched off with
``SWITCHBOARD_RECORD_EXAMPLE_CANDIDATES=false``; ``db purge`` removes candidates older than
``SWITCHBOARD_EXAMPLE_RETENTION_DAYS`` unless they are accepted and not yet applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.core.errors import Conflict, NotFound
from switchboard.store._common import store_errors, utcnow
from switchboard.store.models import ExampleCandidateRow

MAX_TEXT_CHARS = 4000


def text_hash(text: str) -> str:
    """sha256 of the text with case and spacing normalised: the same request, however typed."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode()).hexdigest()


class CandidateStatus(StrEnum):
    UNRESOLVED = "unresolved"  # no agent yet: a person must name one (examples confirm)
    PENDING = "pending"  # an agent is proposed; waiting for review
    ACCEPTED = "accepted"  # reviewed; written to the agent's examples by `examples apply`
    REJECTED = "rejected"
    APPLIED = "applied"


class CandidateSource(StrEnum):
    LLM = "llm"  # Claude chose the agent
    PERSON = "person"  # a person resolved the request


class Candidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    tenant: str
    request_id: str
    text: str
    agent: str | None
    source: CandidateSource | None
    status: CandidateStatus
    outcome: str  # what happened to the request: llm, clarify, out_of_scope, escalated
    created_at: datetime
    updated_at: datetime


def _candidate(row: ExampleCandidateRow) -> Candidate:
    return Candidate(
        id=row.id,
        tenant=row.tenant,
        request_id=row.request_id,
        text=row.text,
        agent=row.agent,
        source=CandidateSource(row.source) if row.source else None,
        status=CandidateStatus(row.status),
        outcome=row.outcome,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ExampleCandidates:
    """``example_candidates``. Store failures raise ``StoreError``; a missing request or id
    raises ``NotFound``; a review step on a candidate in the wrong state raises ``Conflict``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def propose(
        self,
        request_id: str,
        text: str,
        *,
        tenant: str = "",
        agent: str | None = None,
        source: CandidateSource | None = None,
        outcome: str,
        now: datetime | None = None,
    ) -> bool:
        """Records a candidate; True when it was new. With an agent it is ``pending`` review;
        without one it is ``unresolved``.

        One row per request, and one per text (case and spacing ignored): a text already
        recorded, in whatever state (even rejected), is not proposed again.
        """
        now = now or utcnow()
        status = CandidateStatus.PENDING if agent else CandidateStatus.UNRESOLVED
        text = text[:MAX_TEXT_CHARS]
        values = {
            "tenant": tenant,
            "request_id": request_id,
            "text": text,
            "text_hash": text_hash(text),
            "agent": agent,
            "source": source.value if source and agent else None,
            "status": status.value,
            "outcome": outcome[:32],
            "created_at": now,
            "updated_at": now,
        }
        async with store_errors("recording an example candidate"), self._sessions.begin() as s:
            stmt: postgresql.Insert | sqlite.Insert
            if s.get_bind().dialect.name == "postgresql":
                stmt = postgresql.insert(ExampleCandidateRow)
            else:
                stmt = sqlite.insert(ExampleCandidateRow)
            # Either unique key (request id, or text) already taken: nothing to add.
            result = await s.execute(stmt.values(values).on_conflict_do_nothing())
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def confirm(self, request_id: str, agent: str, *, tenant: str | None = None) -> Candidate:
        """A person names the agent a recorded request belonged to: ``pending`` review.

        ``tenant`` may be left out when only one tenant has that request id.
        """
        async with store_errors("confirming an example candidate"), self._sessions.begin() as s:
            stmt = select(ExampleCandidateRow).where(ExampleCandidateRow.request_id == request_id)
            if tenant is not None:
                stmt = stmt.where(ExampleCandidateRow.tenant == tenant)
            rows = (await s.scalars(stmt.with_for_update())).all()
            if not rows:
                raise NotFound(
                    f"no recorded request {request_id!r}: recording may be off, or the same "
                    "text was recorded before under another request id (see `examples list`)"
                )
            if len(rows) > 1:
                tenants = ", ".join(sorted(repr(r.tenant) for r in rows))
                raise Conflict(f"request {request_id!r} exists for tenants {tenants}: name one")
            row = rows[0]
            if row.status in (CandidateStatus.ACCEPTED, CandidateStatus.APPLIED):
                raise Conflict(f"candidate {row.id} is already {row.status}")
            row.agent = agent
            row.source = CandidateSource.PERSON.value
            row.status = CandidateStatus.PENDING.value
            row.updated_at = utcnow()
            await s.flush()
            return _candidate(row)

    async def query(
        self,
        *,
        status: CandidateStatus | None = None,
        agent: str | None = None,
        limit: int = 200,
    ) -> list[Candidate]:
        """Candidates, oldest first."""
        stmt = select(ExampleCandidateRow)
        if status is not None:
            stmt = stmt.where(ExampleCandidateRow.status == status.value)
        if agent is not None:
            stmt = stmt.where(ExampleCandidateRow.agent == agent)
        stmt = stmt.order_by(ExampleCandidateRow.created_at, ExampleCandidateRow.id)
        async with store_errors("listing example candidates"), self._sessions() as session:
            rows = (await session.scalars(stmt.limit(max(1, limit)))).all()
        return [_candidate(r) for r in rows]

    async def review(self, ids: Sequence[int], *, accept: bool) -> list[Candidate]:
        """Accepts or rejects ``pending`` candidates (all or none); returns them."""
        target = CandidateStatus.ACCEPTED if accept else CandidateStatus.REJECTED
        # A rejected candidate may be accepted after all, and the other way round.
        allowed = {CandidateStatus.PENDING, CandidateStatus.ACCEPTED, CandidateStatus.REJECTED}
        async with store_errors("reviewing example candidates"), self._sessions.begin() as s:
            rows = (
                await s.scalars(
                    select(ExampleCandidateRow)
                    .where(ExampleCandidateRow.id.in_(list(ids)))
                    .with_for_update()
                )
            ).all()
            missing = sorted(set(ids) - {r.id for r in rows})
            if missing:
                raise NotFound(f"no candidate with id {', '.join(map(str, missing))}")
            for row in rows:
                if row.status not in allowed:
                    hint = " (name its agent with `examples confirm` first)" * (
                        row.status == CandidateStatus.UNRESOLVED
                    )
                    raise Conflict(f"candidate {row.id} is {row.status}{hint}")
            now = utcnow()
            for row in rows:
                row.status = target.value
                row.updated_at = now
            await s.flush()
            return [_candidate(r) for r in sorted(rows, key=lambda r: r.id)]

    async def mark_applied(self, ids: Sequence[int]) -> int:
        """Marks accepted candidates as written to the agents' configs."""
        if not ids:
            return 0
        async with store_errors("marking candidates applied"), self._sessions.begin() as s:
            result = await s.execute(
                update(ExampleCandidateRow)
                .where(
                    ExampleCandidateRow.id.in_(list(ids)),
                    ExampleCandidateRow.status == CandidateStatus.ACCEPTED.value,
                )
                .values(status=CandidateStatus.APPLIED.value, updated_at=utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def forget(self, tenant: str, request_ids: Sequence[str]) -> int:
        """Deletes the candidates recorded from these requests (they hold the user's text)."""
        if not request_ids:
            return 0
        async with store_errors("forgetting example candidates"), self._sessions.begin() as s:
            result = await s.execute(
                delete(ExampleCandidateRow).where(
                    ExampleCandidateRow.tenant == tenant,
                    ExampleCandidateRow.request_id.in_(list(request_ids)),
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def purge(self, *, older_than_s: float, now: datetime | None = None) -> int:
        """Deletes candidates (and their text) older than the retention, except accepted ones
        still waiting to be applied."""
        cutoff = (now or utcnow()) - timedelta(seconds=older_than_s)
        async with store_errors("purging example candidates"), self._sessions.begin() as s:
            result = await s.execute(
                delete(ExampleCandidateRow).where(
                    ExampleCandidateRow.created_at < cutoff,
                    ExampleCandidateRow.status != CandidateStatus.ACCEPTED.value,
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)
