"""The prompt registry: immutable versions per agent, and (``prompt_labels``) the labels that
point at them with the audit of every move (docs/prompts.md).

Versions are only ever added: a change is a new version, and the same content created
again is the existing version (idempotent by hash), so seeding from git at every ingest is
safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.core import errors
from switchboard.store._common import store_errors, utcnow
from switchboard.store.models import FeedbackRow, PromptVersionRow
from switchboard.store.prompt_labels import LabelMoved, PromptLabels, Resolved, version_of
from switchboard.store.prompt_types import PromptVersion, check_agent, check_content, content_hash

_CREATE_ATTEMPTS = 20

__all__ = ["LabelMoved", "PromptRegistry", "Resolved", "VersionFeedback"]


@dataclass(frozen=True)
class VersionFeedback:
    count: int
    positive: int

    @property
    def rate(self) -> float:
        return self.positive / self.count if self.count else 0.0


class PromptRegistry(PromptLabels):
    """``prompt_versions``, plus the labels (:class:`PromptLabels`).

    Bad input raises ``InvalidRequest`` / ``NotFound`` / :class:`LabelMoved`; database
    failures ``StoreError``.
    """

    async def create(
        self,
        *,
        agent: str,
        system_prompt: str,
        rules: str,
        model: str,
        params: dict[str, Any],
        author: str,
        note: str,
        now: datetime | None = None,
    ) -> tuple[PromptVersion, bool]:
        """Adds the next version of ``agent``; True when new. The same content (text, rules,
        model, parameters) returns the existing version instead: creating is idempotent."""
        check_agent(agent)
        check_content(system_prompt, rules, model, note)
        digest = content_hash(system_prompt, rules, model, params)
        for _ in range(_CREATE_ATTEMPTS):
            async with store_errors("reading prompt versions"), self._sessions() as s:
                same = await self._by_hash(s, agent, digest)
                if same is not None:
                    return version_of(same), False
                last = await s.scalar(
                    select(func.max(PromptVersionRow.number)).where(PromptVersionRow.agent == agent)
                )
            row = PromptVersionRow(
                agent=agent,
                number=(last or 0) + 1,
                system_prompt=system_prompt,
                rules=rules,
                model=model,
                params=params,
                content_hash=digest,
                author=author[:128] or "unknown",
                note=note,
                created_at=now or utcnow(),
            )
            try:
                async with store_errors("creating a prompt version"), self._sessions.begin() as s:
                    s.add(row)
                return version_of(row), True
            except errors.RuntimeFailure as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                # Another writer took this number (or added the same content): look again,
                # after a short random pause so concurrent writers spread out.
                await asyncio.sleep(random.uniform(0.001, 0.02))
        raise errors.Unavailable("prompt versions are being created concurrently; retry")

    async def _by_hash(self, s: AsyncSession, agent: str, digest: str) -> PromptVersionRow | None:
        return (
            await s.scalars(
                select(PromptVersionRow).where(
                    PromptVersionRow.agent == agent, PromptVersionRow.content_hash == digest
                )
            )
        ).one_or_none()

    async def get(self, agent: str, number: int) -> PromptVersion:
        async with store_errors("reading a prompt version"), self._sessions() as s:
            row = await self._row(s, agent, number)
        return version_of(row)

    async def versions(self, agent: str) -> list[PromptVersion]:
        async with store_errors("reading prompt versions"), self._sessions() as s:
            rows = (
                await s.scalars(
                    select(PromptVersionRow)
                    .where(PromptVersionRow.agent == agent)
                    .order_by(PromptVersionRow.number)
                )
            ).all()
        return [version_of(r) for r in rows]

    async def agents(self) -> list[str]:
        async with store_errors("reading prompt versions"), self._sessions() as s:
            rows = await s.scalars(select(PromptVersionRow.agent).distinct())
            return sorted(rows.all())

    async def seed(
        self,
        *,
        agent: str,
        system_prompt: str,
        rules: str,
        model: str,
        params: dict[str, Any],
        label: str = "production",
        author: str = "ingest",
    ) -> tuple[PromptVersion, bool]:
        """Records the prompt in git (``prompt.md`` + ``agent.yaml``) as a version (idempotent
        by hash) and, when the agent has no ``label`` yet, points it there: version 1."""
        version, new = await self.create(
            agent=agent,
            system_prompt=system_prompt,
            rules=rules,
            model=model,
            params=params,
            author=author,
            note="seeded from prompt.md and agent.yaml",
        )
        if await self.label(agent, label) is None:
            with contextlib.suppress(LabelMoved):  # another replica seeded it first
                await self.move(
                    agent,
                    label,
                    to=version.number,
                    expect_revision=0,
                    actor=author,
                    reason="first version, from git",
                    action="seed",
                )
        return version, new

    async def feedback(
        self, agent: str, *, days: float | None = None, tenant: str | None = None
    ) -> dict[str, VersionFeedback]:
        """Feedback counts per prompt version (``agent@vN``) of ``agent``'s answers."""
        stmt = select(FeedbackRow.prompt_version, FeedbackRow.positive).where(
            FeedbackRow.agent == agent, FeedbackRow.prompt_version.is_not(None)
        )
        if days is not None:
            stmt = stmt.where(FeedbackRow.created_at >= utcnow() - timedelta(days=days))
        if tenant is not None:
            stmt = stmt.where(FeedbackRow.tenant == tenant)
        async with store_errors("reading feedback per prompt version"), self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for version, positive in rows:
            cell = tally[str(version)]
            cell[0] += 1
            cell[1] += int(bool(positive))
        return {v: VersionFeedback(n, p) for v, (n, p) in sorted(tally.items())}
