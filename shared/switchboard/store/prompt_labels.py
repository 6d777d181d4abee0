"""Labels of the prompt registry: where each points, compare-and-set moves, their audit.

A label is moved by compare-and-set: the caller names the label ``revision`` it read, and a
move from a stale read fails with :class:`LabelMoved` instead of silently overwriting a
colleague's move. The move and its audit row are written in one transaction, so nothing is
ever half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.core import errors
from switchboard.store._common import store_errors, utcnow
from switchboard.store._upsert import insert_if_absent
from switchboard.store.models import PromptLabelMoveRow, PromptLabelRow, PromptVersionRow
from switchboard.store.prompt_types import (
    LabelMove,
    PromptLabel,
    PromptVersion,
    check_agent,
    check_canary,
    check_label,
)


class LabelMoved(errors.FailedPrecondition):
    """The label moved since the caller read it (compare-and-set lost): re-read, retry."""


@dataclass(frozen=True)
class Resolved:
    """A label and the versions it serves (the canary's too), read in one go."""

    label: PromptLabel
    main: PromptVersion
    canary: PromptVersion | None


def version_of(row: PromptVersionRow) -> PromptVersion:
    return PromptVersion.model_validate(row, from_attributes=True)


def _label(row: PromptLabelRow) -> PromptLabel:
    return PromptLabel.model_validate(row, from_attributes=True)


class PromptLabels:
    """``prompt_labels`` and ``prompt_label_moves`` (the registry's versions are read here
    too, to check what a label may point at)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _row(self, s: AsyncSession, agent: str, number: int) -> PromptVersionRow:
        row = (
            await s.scalars(
                select(PromptVersionRow).where(
                    PromptVersionRow.agent == agent, PromptVersionRow.number == number
                )
            )
        ).one_or_none()
        if row is None:
            known = await s.scalar(
                select(func.count()).where(PromptVersionRow.agent == agent)  # type: ignore[arg-type]
            )
            if not known:
                raise errors.NotFound(f"agent {agent!r} has no prompt versions")
            raise errors.NotFound(f"agent {agent!r} has no prompt version v{number}")
        return row

    async def labels(self, agent: str | None = None) -> list[PromptLabel]:
        stmt = select(PromptLabelRow).order_by(PromptLabelRow.agent, PromptLabelRow.label)
        if agent is not None:
            stmt = stmt.where(PromptLabelRow.agent == agent)
        async with store_errors("reading prompt labels"), self._sessions() as s:
            return [_label(r) for r in (await s.scalars(stmt)).all()]

    async def label(self, agent: str, label: str) -> PromptLabel | None:
        async with store_errors("reading a prompt label"), self._sessions() as s:
            row = await self._label_row(s, agent, label)
        return None if row is None else _label(row)

    async def _label_row(self, s: AsyncSession, agent: str, label: str) -> PromptLabelRow | None:
        return (
            await s.scalars(
                select(PromptLabelRow).where(
                    PromptLabelRow.agent == agent, PromptLabelRow.label == label
                )
            )
        ).one_or_none()

    async def resolve(self, agent: str, label: str) -> Resolved | None:
        """The label and its versions (None: the agent has no such label)."""
        async with store_errors("resolving a prompt label"), self._sessions() as s:
            row = await self._label_row(s, agent, label)
            if row is None:
                return None
            main = await self._row(s, agent, row.version)
            canary = None
            if row.canary_version is not None and row.canary_percent:
                canary = await self._row(s, agent, row.canary_version)
        return Resolved(
            _label(row), version_of(main), None if canary is None else version_of(canary)
        )

    async def move(
        self,
        agent: str,
        label: str,
        *,
        to: int,
        expect_revision: int,
        actor: str,
        reason: str = "",
        action: str = "set",
        canary: int | None = None,
        canary_percent: int = 0,
        detail: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> PromptLabel:
        """Points ``label`` at version ``to`` (and optionally a canary share), provided the
        label is still at ``expect_revision`` (0: the label must not exist yet)."""
        check_agent(agent)
        check_label(label)
        check_canary(canary, canary_percent)
        if canary == to:
            raise errors.InvalidRequest("the canary must be another version than the main one")
        now = now or utcnow()
        async with store_errors("moving a prompt label"), self._sessions.begin() as s:
            await self._row(s, agent, to)
            if canary is not None:
                await self._row(s, agent, canary)
            current = await self._label_row(s, agent, label)
            revision = 0 if current is None else current.revision
            previous = None if current is None else current.version
            if revision != expect_revision:
                raise LabelMoved(self._moved(agent, label, current, expect_revision))
            values = {
                "version": to,
                "canary_version": canary,
                "canary_percent": canary_percent,
                "revision": revision + 1,
                "updated_by": actor[:128],
                "updated_at": now,
            }
            if current is None:
                won = await insert_if_absent(
                    s,
                    PromptLabelRow,
                    {"agent": agent, "label": label, **values},
                    ["agent", "label"],
                )
            else:
                result = await s.execute(
                    update(PromptLabelRow)
                    .where(
                        PromptLabelRow.agent == agent,
                        PromptLabelRow.label == label,
                        PromptLabelRow.revision == expect_revision,
                    )
                    .values(**values)
                )
                won = int(getattr(result, "rowcount", 0) or 0) == 1
            if not won:
                raise LabelMoved(self._moved(agent, label, None, expect_revision))
            s.add(
                PromptLabelMoveRow(
                    agent=agent,
                    label=label,
                    action=action[:16],
                    from_version=previous,
                    to_version=to,
                    canary_version=canary,
                    canary_percent=canary_percent,
                    actor=actor[:128],
                    reason=reason,
                    detail=detail or {},
                    created_at=now,
                )
            )
            row = await self._label_row(s, agent, label)
            assert row is not None
            return _label(row)

    @staticmethod
    def _moved(agent: str, label: str, current: PromptLabelRow | None, expected: int) -> str:
        now = "" if current is None else f" (now revision {current.revision}, v{current.version})"
        return (
            f"label {label!r} of {agent!r} changed since it was read at revision {expected}"
            f"{now}: someone else moved it; look again and retry"
        )

    async def history(
        self, agent: str, label: str | None = None, *, limit: int = 50
    ) -> list[LabelMove]:
        """Label moves, newest first."""
        stmt = select(PromptLabelMoveRow).where(PromptLabelMoveRow.agent == agent)
        if label is not None:
            stmt = stmt.where(PromptLabelMoveRow.label == label)
        stmt = stmt.order_by(PromptLabelMoveRow.id.desc()).limit(max(1, limit))
        async with store_errors("reading label moves"), self._sessions() as s:
            rows = (await s.scalars(stmt)).all()
        return [LabelMove.model_validate(r, from_attributes=True) for r in rows]
