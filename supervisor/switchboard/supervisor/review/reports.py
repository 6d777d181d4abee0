"""Reports for people: knowledge gaps grouped by similarity, figures per agent and day.

Shared by the Review service (the console) and the command line (``switchboard gaps``,
``switchboard feedback report``), so both show the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
from pydantic import BaseModel

from switchboard.core.audit import AuditKind, utcnow
from switchboard.store import AuditLog, FeedbackLog, KnowledgeGap

#: Two questions whose embeddings are at least this similar are the same topic.
GROUP_SIMILARITY = 0.6
MAX_QUESTIONS = 20


class GapGroup(BaseModel):
    agent: str
    count: int
    representative: str
    questions: list[str]
    answer: str
    last_seen: datetime


def group_gaps(
    gaps: Sequence[KnowledgeGap], *, similarity: float = GROUP_SIMILARITY
) -> list[GapGroup]:
    """Per agent, questions grouped greedily by cosine similarity (newest first in, each
    joins the group whose first question it is most like, if like enough); largest groups
    first. Questions without an embedding stay alone."""
    groups: list[GapGroup] = []
    by_agent: dict[str, list[KnowledgeGap]] = defaultdict(list)
    for gap in sorted(gaps, key=lambda g: g.created_at, reverse=True):
        by_agent[gap.agent].append(gap)
    for agent, members in by_agent.items():
        clusters: list[list[KnowledgeGap]] = []
        heads: list[np.ndarray | None] = []  # each group's first question, unit length
        for gap in members:
            vector = gap.embedding()
            unit = None if vector is None else vector / (np.linalg.norm(vector) or 1.0)
            if unit is not None:
                scores = [
                    float(unit @ h) if h is not None and h.shape == unit.shape else -1.0
                    for h in heads
                ]
                if scores and max(scores) >= similarity:
                    clusters[int(np.argmax(scores))].append(gap)
                    continue
            clusters.append([gap])
            heads.append(unit)
        for cluster in clusters:
            head = _representative(cluster)
            groups.append(
                GapGroup(
                    agent=agent,
                    count=len(cluster),
                    representative=head.question,
                    questions=[g.question for g in cluster][:MAX_QUESTIONS],
                    answer=head.answer,
                    last_seen=max(g.created_at for g in cluster),
                )
            )
    return sorted(groups, key=lambda g: (-g.count, -g.last_seen.timestamp()))


def _representative(cluster: list[KnowledgeGap]) -> KnowledgeGap:
    """The question most like the rest of its group."""
    vectors = [g.embedding() for g in cluster]
    if len(cluster) < 3 or any(v is None for v in vectors):
        return cluster[0]
    matrix = np.stack([v / (np.linalg.norm(v) or 1.0) for v in vectors if v is not None])
    return cluster[int(np.argmax((matrix @ matrix.T).sum(axis=1)))]


class AgentDay(BaseModel):
    day: date
    agent: str
    feedback: int = 0
    positive: int = 0
    calls: int = 0
    cost_usd: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.positive / self.feedback if self.feedback else None


async def agent_days(
    feedback: FeedbackLog,
    audit: AuditLog,
    *,
    days: int,
    tenant: str | None = None,
    max_calls: int = 100_000,
) -> list[AgentDay]:
    """Feedback, agent calls and their cost per (day, agent) over the last ``days`` days."""
    cells: dict[tuple[date, str], AgentDay] = {}

    def cell(day: date, agent: str) -> AgentDay:
        return cells.setdefault((day, agent), AgentDay(day=day, agent=agent))

    for rate in await feedback.daily(days=days, tenant=tenant):
        c = cell(rate.day, rate.agent)
        c.feedback += rate.count
        c.positive += rate.positive
    calls = await audit.query(
        kind=AuditKind.AGENT_CALL,
        tenant=tenant,
        since=utcnow() - timedelta(days=days),
        limit=max_calls,
    )
    for call in calls:
        if not call.agent:
            continue
        c = cell(call.time.date(), call.agent)
        c.calls += 1
        cost = call.detail.get("cost_usd")
        if isinstance(cost, int | float):
            c.cost_usd += float(cost)
    return [cells[k] for k in sorted(cells)]
