"""Idempotent requests: a repeated (tenant, request_id) gets the stored result, never a rerun.

The flow for one request::

    claim = await store.claim(tenant, request_id, fingerprint=...)
    if claim.outcome is ClaimOutcome.DONE:        return the stored claim.response
    if claim.outcome is ClaimOutcome.IN_PROGRESS: refuse (ABORTED / retry later)
    if claim.outcome is ClaimOutcome.CONFLICT:    refuse (same id, different request)
    ... run the request ...
    await store.complete(claim, response_bytes, status="ANSWERED")
    # or, when it failed in a way the caller may retry: await store.release(claim)

A claim holds a lease (``lease_s``): if its holder dies, the claim can be taken over once the
lease has run out. A finished result is kept for ``window_s``; after that the id is new again.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import store_errors, utcnow
from switchboard.store._upsert import insert_if_absent
from switchboard.store.models import RequestResultRow
from switchboard.store.writer import GroupWriter, write

IN_PROGRESS = "in_progress"
DONE = "done"


class ClaimOutcome(StrEnum):
    ACQUIRED = "acquired"  # this caller runs the request, then completes or releases it
    DONE = "done"  # already answered: ``response`` holds the stored result
    IN_PROGRESS = "in_progress"  # another caller holds a live claim
    CONFLICT = "conflict"  # the id was used for a different request (fingerprint differs)


class Claim(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: ClaimOutcome
    tenant: str
    request_id: str
    token: str | None = None  # set when ACQUIRED; needed by complete() and release()
    response: bytes | None = None
    status: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def acquired(self) -> bool:
        return self.outcome is ClaimOutcome.ACQUIRED


class StoredResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    request_id: str
    state: str
    status: str | None
    response: bytes | None
    created_at: datetime
    expires_at: datetime


def _key(tenant: str, request_id: str) -> tuple[ColumnElement[bool], ...]:
    return (RequestResultRow.tenant == tenant, RequestResultRow.request_id == request_id)


def _reusable(now: datetime) -> ColumnElement[bool]:
    """A finished record past its window, or a claim whose holder's lease ran out."""
    return or_(
        and_(RequestResultRow.state == DONE, RequestResultRow.expires_at <= now),
        and_(RequestResultRow.state == IN_PROGRESS, RequestResultRow.lease_until <= now),
    )


class IdempotencyStore:
    """``request_results``: claim, complete, release, get. Failures raise ``StoreError``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window_s: float = 86400.0,
        lease_s: float = 300.0,
        writer: GroupWriter | None = None,
    ) -> None:
        self._sessions = sessions
        self._writer = writer  # claims, results and releases share grouped transactions
        self.window = timedelta(seconds=window_s)
        self.lease = timedelta(seconds=lease_s)

    async def claim(
        self,
        tenant: str,
        request_id: str,
        *,
        fingerprint: str | None = None,
        lease_s: float | None = None,
        now: datetime | None = None,
    ) -> Claim:
        """Atomically claims ``request_id`` for ``tenant``; of concurrent callers one wins.

        ``fingerprint`` (a hash of the request) turns the reuse of an id for a different
        request into ``CONFLICT``. ``lease_s`` overrides the lease, e.g. the caller's deadline.
        """
        now = now or utcnow()
        token = secrets.token_hex(16)
        lease_until = now + (timedelta(seconds=lease_s) if lease_s else self.lease)
        fresh = {
            "state": IN_PROGRESS,
            "owner": token,
            "fingerprint": fingerprint,
            "status": None,
            "response": None,
            "created_at": now,
            "lease_until": lease_until,
            "expires_at": now + self.window,
        }
        acquired = Claim(
            outcome=ClaimOutcome.ACQUIRED,
            tenant=tenant,
            request_id=request_id,
            token=token,
            created_at=now,
            expires_at=now + self.window,
        )

        async def op(session: AsyncSession) -> RequestResultRow | None:
            values = {"tenant": tenant, "request_id": request_id, **fresh}
            if await insert_if_absent(session, RequestResultRow, values, ["tenant", "request_id"]):
                return None
            # Take over a record whose window has passed, or a claim whose holder went away.
            taken = await session.execute(
                update(RequestResultRow)
                .where(
                    *_key(tenant, request_id),
                    _reusable(now),
                )
                .values(**fresh)
            )
            if int(getattr(taken, "rowcount", 0) or 0) == 1:
                return None
            found: RequestResultRow = (
                await session.scalars(
                    select(RequestResultRow)
                    .where(*_key(tenant, request_id))
                    .execution_options(populate_existing=True)
                )
            ).one()
            return found

        row = await write(self._writer, self._sessions, "claiming a request id", op)
        if row is None:
            return acquired
        if fingerprint is not None and row.fingerprint not in (None, fingerprint):
            outcome = ClaimOutcome.CONFLICT
        elif row.state == DONE:
            outcome = ClaimOutcome.DONE
        else:
            outcome = ClaimOutcome.IN_PROGRESS
        done = outcome is ClaimOutcome.DONE
        return Claim(
            outcome=outcome,
            tenant=tenant,
            request_id=request_id,
            response=row.response if done else None,
            status=row.status if done else None,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def complete(self, claim: Claim, response: bytes, *, status: str | None = None) -> bool:
        """Stores the response for an acquired claim; False if the claim was lost meanwhile."""
        if claim.token is None:
            raise ValueError("complete() needs an ACQUIRED claim")

        async def op(session: AsyncSession) -> int:
            result = await session.execute(
                update(RequestResultRow)
                .where(
                    *_key(claim.tenant, claim.request_id),
                    RequestResultRow.owner == claim.token,
                    RequestResultRow.state == IN_PROGRESS,
                )
                .values(state=DONE, response=response, status=status)
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return await write(self._writer, self._sessions, "storing a request result", op) == 1

    async def release(self, claim: Claim) -> bool:
        """Gives up an acquired claim so the caller may retry the same id (e.g. after a
        failure that did nothing). False if the claim was no longer held."""
        if claim.token is None:
            raise ValueError("release() needs an ACQUIRED claim")

        async def op(session: AsyncSession) -> int:
            result = await session.execute(
                delete(RequestResultRow).where(
                    *_key(claim.tenant, claim.request_id),
                    RequestResultRow.owner == claim.token,
                    RequestResultRow.state == IN_PROGRESS,
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return await write(self._writer, self._sessions, "releasing a request id", op) == 1

    async def get(
        self, tenant: str, request_id: str, *, now: datetime | None = None
    ) -> StoredResult | None:
        """The record for an id within its window, finished or not; None otherwise."""
        now = now or utcnow()
        async with store_errors("reading a request result"), self._sessions() as session:
            row = (
                await session.scalars(
                    select(RequestResultRow).where(
                        *_key(tenant, request_id), RequestResultRow.expires_at > now
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return StoredResult(
            tenant=row.tenant,
            request_id=row.request_id,
            state=row.state,
            status=row.status,
            response=row.response,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Deletes finished records past their window and abandoned claims."""
        now = now or utcnow()
        async with store_errors("purging request results"), self._sessions.begin() as session:
            result = await session.execute(
                delete(RequestResultRow).where(
                    _reusable(now),
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)
