"""Review items: requests a person must look at, held durably until someone resolves them.

An item is made for an escalated request, a pending action a reviewer must approve, or a
sampled answer for quality review; one per (tenant, request_id). Its state is ``open`` until
a person ``resolved`` or ``closed`` it, or it ``expired``. A claim is a lease
(``claimed_by``/``claim_until``): while it runs, nobody else may claim or finish the item,
and every state change is one conditional UPDATE, so two reviewers (or two supervisor
replicas) can never both resolve the same item.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store._upsert import insert_if_absent
from switchboard.store.models import ReviewItemRow
from switchboard.store.review_items import (
    MAX_QUESTION_CHARS,
    ItemKind,
    ItemState,
    NewItem,
    ReviewItem,
    item_of,
)

__all__ = [
    "MAX_QUESTION_CHARS",
    "ItemKind",
    "ItemState",
    "NewItem",
    "ReviewItem",
    "ReviewItems",
]


def _free(now: datetime, who: str) -> ColumnElement[bool]:
    """Nobody else's claim runs."""
    return or_(
        ReviewItemRow.claim_until.is_(None),
        ReviewItemRow.claim_until <= now,
        ReviewItemRow.claimed_by == who,
    )


class ReviewItems:
    """``review_items``. Failures raise ``StoreError``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, new: NewItem, *, now: datetime | None = None) -> ReviewItem | None:
        """Opens an item; None when the request already has one."""
        now = now or utcnow()
        values = new.model_dump()
        values.update(
            id=uuid.uuid4().hex,
            kind=new.kind.value,
            question=new.question[:MAX_QUESTION_CHARS],
            state=ItemState.OPEN.value,
            created_at=now,
            agent=new.agent[:128],
            reason=new.reason[:64],
        )
        async with store_errors("opening a review item"), self._sessions.begin() as s:
            if not await insert_if_absent(s, ReviewItemRow, values, ["tenant", "request_id"]):
                return None
            row = await s.get(ReviewItemRow, values["id"])
            assert row is not None
            return item_of(row)

    async def get(self, item_id: str) -> ReviewItem | None:
        async with store_errors("reading a review item"), self._sessions() as s:
            row = await s.get(ReviewItemRow, item_id)
        return None if row is None else item_of(row)

    async def by_request(self, tenant: str, request_id: str) -> ReviewItem | None:
        async with store_errors("reading a review item"), self._sessions() as s:
            row = (
                await s.scalars(
                    select(ReviewItemRow).where(
                        ReviewItemRow.tenant == tenant, ReviewItemRow.request_id == request_id
                    )
                )
            ).one_or_none()
        return None if row is None else item_of(row)

    async def query(
        self,
        *,
        tenant: str | None = None,
        agent: str | None = None,
        kind: ItemKind | None = None,
        state: ItemState | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[ReviewItem]:
        """Items oldest first (the inbox order); ``after`` is the last (created_at, id) of
        the previous page."""
        stmt = select(ReviewItemRow)
        if tenant is not None:
            stmt = stmt.where(ReviewItemRow.tenant == tenant)
        if agent is not None:
            stmt = stmt.where(ReviewItemRow.agent == agent)
        if kind is not None:
            stmt = stmt.where(ReviewItemRow.kind == kind.value)
        if state is not None:
            stmt = stmt.where(ReviewItemRow.state == state.value)
        if after is not None:
            at, last = after
            stmt = stmt.where(
                or_(
                    ReviewItemRow.created_at > at,
                    and_(ReviewItemRow.created_at == at, ReviewItemRow.id > last),
                )
            )
        stmt = stmt.order_by(ReviewItemRow.created_at, ReviewItemRow.id).limit(max(1, limit))
        async with store_errors("listing review items"), self._sessions() as s:
            rows = (await s.scalars(stmt)).all()
        return [item_of(r) for r in rows]

    async def counts(self, *, tenant: str | None = None) -> dict[tuple[str, str], int]:
        """How many items there are by (kind, state)."""
        stmt = select(ReviewItemRow.kind, ReviewItemRow.state, func.count()).group_by(
            ReviewItemRow.kind, ReviewItemRow.state
        )
        if tenant is not None:
            stmt = stmt.where(ReviewItemRow.tenant == tenant)
        async with store_errors("counting review items"), self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        return {(str(k), str(st)): int(n) for k, st, n in rows}

    async def claim(
        self, item_id: str, who: str, *, lease_s: float, now: datetime | None = None
    ) -> ReviewItem | None:
        """Claims an open, unexpired item nobody else holds (or renews one's own claim);
        None when that is not possible (read the item to say why)."""
        now = now or utcnow()
        async with store_errors("claiming a review item"), self._sessions.begin() as s:
            done = await s.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.id == item_id,
                    ReviewItemRow.state == ItemState.OPEN.value,
                    ReviewItemRow.expires_at > now,
                    _free(now, who),
                )
                .values(
                    claimed_by=who,
                    claimed_at=now,
                    claim_until=now + timedelta(seconds=lease_s),
                )
            )
            if int(getattr(done, "rowcount", 0) or 0) != 1:
                return None
            row = await s.get(ReviewItemRow, item_id)
            assert row is not None
            return item_of(row)

    async def release(self, item_id: str, who: str) -> None:
        """Gives up ``who``'s claim (a decision that could not be carried out)."""
        async with store_errors("releasing a review item"), self._sessions.begin() as s:
            await s.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item_id, ReviewItemRow.claimed_by == who)
                .values(claim_until=None)
            )

    async def finish(
        self,
        item_id: str,
        who: str,
        *,
        state: ItemState,
        resolution: Mapping[str, Any],
        result: Mapping[str, Any] | None,
        verdict: str | None = None,
        now: datetime | None = None,
    ) -> ReviewItem | None:
        """Resolves or closes an open item nobody else holds; None when it was not open, had
        expired, or someone else held it."""
        now = now or utcnow()
        async with store_errors("resolving a review item"), self._sessions.begin() as s:
            done = await s.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.id == item_id,
                    ReviewItemRow.state == ItemState.OPEN.value,
                    ReviewItemRow.expires_at > now,
                    _free(now, who),
                )
                .values(
                    state=state.value,
                    resolution=dict(resolution),
                    result=dict(result) if result is not None else None,
                    resolved_by=who[:128],
                    resolved_at=now,
                    verdict=verdict,
                    claimed_by=who[:128],
                    claim_until=None,
                )
            )
            if int(getattr(done, "rowcount", 0) or 0) != 1:
                return None
            row = await s.get(ReviewItemRow, item_id)
            assert row is not None
            return item_of(row)

    async def close_open(
        self,
        tenant: str,
        request_id: str,
        *,
        resolution: Mapping[str, Any],
        result: Mapping[str, Any],
        now: datetime | None = None,
    ) -> bool:
        """Closes a request's open item on the system's behalf (a retry was answered)."""
        now = now or utcnow()
        async with store_errors("closing a review item"), self._sessions.begin() as s:
            done = await s.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.tenant == tenant,
                    ReviewItemRow.request_id == request_id,
                    ReviewItemRow.state == ItemState.OPEN.value,
                )
                .values(
                    state=ItemState.RESOLVED.value,
                    resolution=dict(resolution),
                    result=dict(result),
                    resolved_by="system",
                    resolved_at=now,
                    claim_until=None,
                )
            )
        return int(getattr(done, "rowcount", 0) or 0) == 1

    async def expire_due(self, *, now: datetime | None = None, limit: int = 500) -> list[str]:
        """Marks open items past their expiry ``expired``; returns their ids."""
        now = now or utcnow()
        async with store_errors("expiring review items"), self._sessions.begin() as s:
            ids = list(
                (
                    await s.scalars(
                        select(ReviewItemRow.id)
                        .where(
                            ReviewItemRow.state == ItemState.OPEN.value,
                            ReviewItemRow.expires_at <= now,
                        )
                        .limit(limit)
                    )
                ).all()
            )
            if not ids:
                return []
            await s.execute(
                update(ReviewItemRow)
                .where(
                    ReviewItemRow.id.in_(ids),
                    ReviewItemRow.state == ItemState.OPEN.value,
                )
                .values(
                    state=ItemState.EXPIRED.value,
                    resolved_at=now,
                    resolution={"action": "expire", "reason": "nobody decided in time"},
                    claim_until=None,
                )
            )
        return ids

    async def purge(self, *, older_than_s: float, now: datetime | None = None) -> int:
        """Deletes finished items older than the retention (open ones are kept)."""
        cutoff = (now or utcnow()) - timedelta(seconds=older_than_s)
        async with store_errors("purging review items"), self._sessions.begin() as s:
            result = await s.execute(
                delete(ReviewItemRow).where(
                    ReviewItemRow.created_at < cutoff,
                    ReviewItemRow.state != ItemState.OPEN.value,
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)
