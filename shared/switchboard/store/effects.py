"""Tool side effects that happen at most once per (tenant, request_id, step).

``run_once`` claims the step in the database before calling the tool. A replay of the same
step (a retried request, a second replica) gets the stored result instead of a second call;
a replay with a different tool or arguments is refused (:class:`EffectMismatch`); a replay
while the first call is still running is refused (:class:`EffectPending`).

If the tool raises, the claim is released so the step may be tried again: a tool that can
fail half-way must make its own effect atomic. If a worker dies mid-call, its claim can be
taken over once its lease has run out.

Once the tool has run, its result is stored whatever happens to the caller, and a failing
database is retried until the lease runs out: under load a fault run once saw SQLite's pool
time out just as a refund returned, and the step, left "running", would have been refunded
again after its lease. Claims, results and releases go through the store's group writer,
like the request ledger's, so they do not queue for the pool one transaction each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.store._common import canonical_hash, store_errors, utcnow
from switchboard.store._upsert import insert_if_absent
from switchboard.store.errors import EffectMismatch, EffectPending, StoreError
from switchboard.store.models import ToolEffectRow
from switchboard.store.writer import GroupWriter, write

log = logging.getLogger(__name__)

IN_PROGRESS = "in_progress"
DONE = "done"


RECORD_RETRY_FIRST_S = 0.05
RECORD_RETRY_MAX_S = 2.0


class EffectResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    step: str
    tool: str
    result: JsonValue
    replayed: bool  # True when the stored result of an earlier call was returned


def args_hash(tool: str, args: Mapping[str, Any]) -> str:
    return canonical_hash({"tool": tool, "args": dict(args)})


def _key(tenant: str, request_id: str, step: str) -> tuple[ColumnElement[bool], ...]:
    return (
        ToolEffectRow.tenant == tenant,
        ToolEffectRow.request_id == request_id,
        ToolEffectRow.step == step,
    )


def _check_json(step: str, result: JsonValue) -> None:
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"tool {step} returned a result that is not JSON: {exc}") from exc


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class ToolEffects:
    """``tool_effects``: run a tool once per request step. Failures raise ``StoreError``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease_s: float = 300.0,
        writer: GroupWriter | None = None,
    ):
        self._sessions = sessions
        self._writer = writer  # claims, results and releases share grouped transactions
        self.lease = timedelta(seconds=lease_s)

    async def run_once(
        self,
        request_id: str,
        step: int | str,
        tool: str,
        args: Mapping[str, Any],
        fn: Callable[[], Awaitable[JsonValue]],
        *,
        tenant: str = "",
        now: datetime | None = None,
        approved_by: str | None = None,
        approval_reason: str | None = None,
    ) -> EffectResult:
        """Calls ``fn`` unless this step already ran; returns its (stored) JSON result.

        ``approved_by`` and ``approval_reason`` (a reviewer's approval) are kept with it."""
        step = str(step)
        digest = args_hash(tool, args)
        token = secrets.token_hex(16)
        now = now or utcnow()
        # The claim runs shielded: if this task is cancelled while claiming, the claim may
        # still commit, and must then be given up, or a retry would be told "still running"
        # until the lease ran out.
        claiming = asyncio.ensure_future(
            self._claim(
                tenant, request_id, step, tool, digest, token, now, (approved_by, approval_reason)
            )
        )
        try:
            replayed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            await asyncio.wait([claiming])
            claimed = (
                not claiming.cancelled()
                and claiming.exception() is None
                and claiming.result() is None
            )
            if claimed:
                await asyncio.shield(self._release(tenant, request_id, step, token))
            raise
        if replayed is not None:
            return replayed

        try:
            result = await fn()
        except BaseException:
            await asyncio.shield(self._release(tenant, request_id, step, token))
            raise
        # The tool has run: record it even if this task is cancelled meanwhile (a caller's
        # deadline, a dropped connection), or a retry after the lease would run it again.
        # A cancelled caller waits for the record, so no write is left running unowned.
        _check_json(step, result)
        recording = asyncio.ensure_future(
            self._record(tenant, request_id, step, token, result, now + self.lease)
        )
        try:
            await asyncio.shield(recording)
        except asyncio.CancelledError:
            await asyncio.wait([recording])
            if not recording.cancelled():
                recording.exception()  # _record has logged it; the cancellation goes on
            raise
        return EffectResult(
            request_id=request_id, step=step, tool=tool, result=result, replayed=False
        )

    async def _claim(
        self,
        tenant: str,
        request_id: str,
        step: str,
        tool: str,
        digest: str,
        token: str,
        now: datetime,
        approval: tuple[str | None, str | None] = (None, None),
    ) -> EffectResult | None:
        """Claims the step (None), or returns its stored result, or raises if it is taken."""
        values = {
            "tenant": tenant,
            "request_id": request_id,
            "step": step,
            "tool": tool,
            "args_hash": digest,
            "state": IN_PROGRESS,
            "owner": token,
            "result": None,
            "created_at": now,
            "lease_until": now + self.lease,
            "completed_at": None,
            "approved_by": approval[0],
            "approval_reason": approval[1],
        }

        async def op(session: AsyncSession) -> ToolEffectRow | None:
            """None when claimed; else the row that holds the step."""
            if await insert_if_absent(
                session, ToolEffectRow, values, ["tenant", "request_id", "step"]
            ):
                return None
            taken = await session.execute(
                update(ToolEffectRow)
                .where(
                    *_key(tenant, request_id, step),
                    ToolEffectRow.tool == tool,
                    ToolEffectRow.args_hash == digest,
                    ToolEffectRow.state == IN_PROGRESS,
                    ToolEffectRow.lease_until <= now,
                )
                .values(owner=token, lease_until=now + self.lease)
            )
            if _rowcount(taken) == 1:
                return None
            held: ToolEffectRow = (
                await session.scalars(
                    select(ToolEffectRow)
                    .where(*_key(tenant, request_id, step))
                    .execution_options(populate_existing=True)
                )
            ).one()
            return held

        row = await write(self._writer, self._sessions, "claiming a tool step", op)
        if row is None:
            return None
        if row.tool != tool or row.args_hash != digest:
            raise EffectMismatch(
                f"step {step} of request {request_id} already ran {row.tool} with other arguments"
            )
        if row.state != DONE:
            raise EffectPending(f"step {step} of request {request_id} is still running")
        return EffectResult(
            request_id=request_id, step=step, tool=tool, result=row.result, replayed=True
        )

    async def _record(
        self,
        tenant: str,
        request_id: str,
        step: str,
        token: str,
        result: JsonValue,
        lease_until: datetime,
    ) -> None:
        """Stores a tool's result, retrying while the database fails (locked, its pool busy,
        a connection lost) until the step's lease runs out. Until then nobody can run the
        step again; after it, a retry could, so the record is worth every wait before."""
        delay = RECORD_RETRY_FIRST_S
        while True:
            try:
                await self._finish(tenant, request_id, step, token, result)
                return
            except StoreError as exc:
                left = (lease_until - utcnow()).total_seconds()
                where = {"request_id": request_id, "step": step, "error": exc.message}
                if left <= delay:
                    log.error(
                        "a tool ran but its result could not be stored before the step's "
                        "lease ran out: a retry may run it again",
                        extra=where,
                    )
                    raise
                log.warning("storing a tool result failed; retrying", extra=where)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX_S)

    async def _finish(
        self, tenant: str, request_id: str, step: str, token: str, result: JsonValue
    ) -> None:
        async def op(session: AsyncSession) -> int:
            done = await session.execute(
                update(ToolEffectRow)
                .where(*_key(tenant, request_id, step), ToolEffectRow.owner == token)
                .values(state=DONE, result=result, completed_at=utcnow())
            )
            return _rowcount(done)

        if await write(self._writer, self._sessions, "storing a tool result", op) != 1:
            log.warning(
                "tool step finished after its lease was taken over",
                extra={"request_id": request_id, "step": step},
            )

    async def _release(self, tenant: str, request_id: str, step: str, token: str) -> None:
        async def op(session: AsyncSession) -> None:
            await session.execute(
                delete(ToolEffectRow).where(
                    *_key(tenant, request_id, step),
                    ToolEffectRow.owner == token,
                    ToolEffectRow.state == IN_PROGRESS,
                )
            )

        try:
            await write(self._writer, self._sessions, "releasing a tool step", op)
        except StoreError as exc:  # the tool's own error matters more; the lease expires
            log.warning("could not release a tool step", extra={"error": exc.message})

    async def get(self, request_id: str, step: int | str, *, tenant: str = "") -> JsonValue:
        """The stored result of a finished step, or None."""
        async with store_errors("reading a tool result"), self._sessions() as session:
            row = (
                await session.scalars(
                    select(ToolEffectRow).where(
                        *_key(tenant, request_id, str(step)), ToolEffectRow.state == DONE
                    )
                )
            ).one_or_none()
        return None if row is None else row.result

    async def approval(
        self, request_id: str, step: int | str, *, tenant: str = ""
    ) -> tuple[str | None, str | None]:
        """Who approved a step, and why ((None, None): the caller confirmed it, or no row)."""
        async with store_errors("reading a tool approval"), self._sessions() as session:
            row = (
                await session.execute(
                    select(ToolEffectRow.approved_by, ToolEffectRow.approval_reason).where(
                        *_key(tenant, request_id, str(step))
                    )
                )
            ).one_or_none()
        return (None, None) if row is None else (row[0], row[1])

    async def count(self, request_id: str, *, tenant: str = "") -> int:
        """How many finished steps a request has (handy for tests and audits)."""
        async with store_errors("counting tool steps"), self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ToolEffectRow.id).where(
                        ToolEffectRow.tenant == tenant,
                        ToolEffectRow.request_id == request_id,
                        ToolEffectRow.state == DONE,
                    )
                )
            ).all()
        return len(rows)

    async def purge(self, *, older_than_s: float) -> int:
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        async with store_errors("purging tool effects"), self._sessions.begin() as session:
            result = await session.execute(
                delete(ToolEffectRow).where(ToolEffectRow.created_at < cutoff)
            )
        return _rowcount(result)
