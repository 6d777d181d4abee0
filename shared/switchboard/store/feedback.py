"""Feedback on answers, and the questions people answered because knowledge was missing.

Feedback is one row per (tenant, request_id): a thumb (+1/-1) or a 1-5 score and an optional
comment, joined when given to the request's agent, route method, status and (once the prompt
registry records it) prompt version, so rates can be read per agent over time. Giving it
again for the same request replaces it: a user may change their mind, never count twice.

Knowledge gaps are resolved escalations whose cause was missing knowledge, with the
question's embedding so ``switchboard gaps`` can group similar questions.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store._upsert import insert_if_absent
from switchboard.store.models import FeedbackRow, KnowledgeGapRow

MAX_COMMENT_CHARS = 2000


class Feedback(BaseModel):
    """One rating as stored."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    request_id: str
    thumb: int | None
    score: int | None
    positive: bool
    comment: str
    agent: str
    route_method: str
    status: str
    prompt_version: str | None
    given_by: str
    created_at: datetime
    updated_at: datetime


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback.model_validate(row, from_attributes=True)


class DailyRate(BaseModel):
    """Feedback of one agent on one day."""

    day: date
    agent: str
    count: int
    positive: int

    @property
    def rate(self) -> float:
        return self.positive / self.count if self.count else 0.0


class FeedbackLog:
    """``feedback``. Failures raise ``StoreError``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def give(
        self,
        *,
        tenant: str,
        request_id: str,
        thumb: int | None,
        score: int | None,
        comment: str,
        agent: str,
        route_method: str,
        status: str,
        given_by: str,
        prompt_version: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Feedback, bool]:
        """Records (or replaces) the request's feedback; True when it was new."""
        now = now or utcnow()
        positive = (thumb or 0) > 0 or (score or 0) >= 4
        values = {
            "tenant": tenant,
            "request_id": request_id,
            "thumb": thumb,
            "score": score,
            "positive": positive,
            "comment": comment[:MAX_COMMENT_CHARS],
            "agent": agent[:128],
            "route_method": route_method[:32],
            "status": status[:32],
            "prompt_version": prompt_version,
            "given_by": given_by[:128],
            "created_at": now,
            "updated_at": now,
        }
        async with store_errors("recording feedback"), self._sessions.begin() as s:
            new = await insert_if_absent(s, FeedbackRow, values, ["tenant", "request_id"])
            if not new:
                changes = {
                    k: values[k] for k in ("thumb", "score", "positive", "comment", "given_by")
                }
                await s.execute(
                    update(FeedbackRow)
                    .where(FeedbackRow.tenant == tenant, FeedbackRow.request_id == request_id)
                    .values(**changes, updated_at=now)
                )
            row = (
                await s.scalars(
                    select(FeedbackRow).where(
                        FeedbackRow.tenant == tenant, FeedbackRow.request_id == request_id
                    )
                )
            ).one()
            return _feedback(row), new

    async def get(self, tenant: str, request_id: str) -> Feedback | None:
        async with store_errors("reading feedback"), self._sessions() as s:
            row = (
                await s.scalars(
                    select(FeedbackRow).where(
                        FeedbackRow.tenant == tenant, FeedbackRow.request_id == request_id
                    )
                )
            ).one_or_none()
        return None if row is None else _feedback(row)

    async def daily(
        self, *, days: int, tenant: str | None = None, now: datetime | None = None
    ) -> list[DailyRate]:
        """Counts and positive counts per (day, agent) over the last ``days`` days."""
        since = (now or utcnow()) - timedelta(days=days)
        stmt = select(FeedbackRow.created_at, FeedbackRow.agent, FeedbackRow.positive).where(
            FeedbackRow.created_at >= since
        )
        if tenant is not None:
            stmt = stmt.where(FeedbackRow.tenant == tenant)
        async with store_errors("reading feedback rates"), self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        tally: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
        for created, agent, positive in rows:
            cell = tally[(created.date(), agent)]
            cell[0] += 1
            cell[1] += int(bool(positive))
        return [
            DailyRate(day=d, agent=a, count=n, positive=p)
            for (d, a), (n, p) in sorted(tally.items())
        ]

    async def recent(self, *, tenant: str | None = None, limit: int = 50) -> list[Feedback]:
        stmt = select(FeedbackRow).order_by(FeedbackRow.updated_at.desc()).limit(max(1, limit))
        if tenant is not None:
            stmt = stmt.where(FeedbackRow.tenant == tenant)
        async with store_errors("reading feedback"), self._sessions() as s:
            rows = (await s.scalars(stmt)).all()
        return [_feedback(r) for r in rows]


class KnowledgeGap(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tenant: str
    agent: str
    request_id: str
    question: str
    answer: str
    vector: bytes | None
    created_at: datetime

    def embedding(self) -> np.ndarray | None:
        return None if self.vector is None else np.frombuffer(self.vector, dtype=np.float32)


class KnowledgeGaps:
    """``knowledge_gaps``. Failures raise ``StoreError``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        *,
        tenant: str,
        agent: str,
        request_id: str,
        question: str,
        answer: str,
        vector: np.ndarray | None,
        now: datetime | None = None,
    ) -> bool:
        values = {
            "tenant": tenant,
            "agent": agent[:128],
            "request_id": request_id,
            "question": question[:8000],
            "answer": answer[:8000],
            "vector": None if vector is None else np.asarray(vector, np.float32).tobytes(),
            "created_at": now or utcnow(),
        }
        async with store_errors("recording a knowledge gap"), self._sessions.begin() as s:
            return await insert_if_absent(s, KnowledgeGapRow, values, ["tenant", "request_id"])

    async def query(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        days: float | None = None,
        limit: int = 2000,
    ) -> list[KnowledgeGap]:
        stmt = select(KnowledgeGapRow)
        if tenant is not None:
            stmt = stmt.where(KnowledgeGapRow.tenant == tenant)
        if agent is not None:
            stmt = stmt.where(KnowledgeGapRow.agent == agent)
        if days is not None:
            stmt = stmt.where(KnowledgeGapRow.created_at >= utcnow() - timedelta(days=days))
        stmt = stmt.order_by(KnowledgeGapRow.created_at.desc()).limit(max(1, limit))
        async with store_errors("reading knowledge gaps"), self._sessions() as s:
            rows = (await s.scalars(stmt)).all()
        return [KnowledgeGap.model_validate(r, from_attributes=True) for r in rows]
