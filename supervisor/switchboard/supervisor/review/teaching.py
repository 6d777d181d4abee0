"""What people resolve teaches the system: routing-example candidates and knowledge gaps.

A resolved escalation names the agent the request belonged to (the one a reviewer sent it
to, or the domain of a written answer): it becomes a routing-example candidate for the
existing review (``switchboard examples``), pending acceptance; nothing reaches routing
without it. When the cause was missing knowledge, the question and the reviewer's answer
become a knowledge-gap entry (with the question's embedding, for ``switchboard gaps``).
Best effort: a store failure is logged, never undoes the resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import numpy as np

from switchboard.core.errors import Conflict, NotFound
from switchboard.store import CandidateSource, ExampleCandidates, KnowledgeGaps, StoreError
from switchboard.store.review import ReviewItem

log = logging.getLogger(__name__)

Embed = Callable[[str], Awaitable[np.ndarray]]

#: Item reasons that mean the agent's knowledge lacked the answer.
GAP_REASONS = frozenset({"no_knowledge", "low_confidence", "compound_part"})


class Teacher:
    def __init__(
        self, examples: ExampleCandidates | None, gaps: KnowledgeGaps, embed: Embed
    ) -> None:
        self._examples = examples
        self._gaps = gaps
        self._embed = embed

    async def routed(self, item: ReviewItem, agent: str) -> bool:
        """A person says ``item`` belonged to ``agent``: a routing-example candidate."""
        if self._examples is None or not agent:
            return False
        try:
            try:
                await self._examples.confirm(item.request_id, agent, tenant=item.tenant)
                return True
            except NotFound:
                return await self._examples.propose(
                    item.request_id,
                    item.question,
                    tenant=item.tenant,
                    agent=agent,
                    source=CandidateSource.PERSON,
                    outcome="escalated",
                )
        except Conflict:  # already accepted or applied: nothing to add
            return False
        except StoreError as exc:
            log.warning("routing example not recorded", extra={"error": exc.message})
            return False

    async def gap(self, item: ReviewItem, agent: str, answer: str) -> bool:
        """Records a knowledge gap of ``agent``."""
        try:
            vector = await self._embed(item.question)
        except Exception as exc:  # the gap is kept, only not grouped by similarity
            log.warning("knowledge gap not embedded", extra={"error": repr(exc)})
            vector = None
        try:
            return await self._gaps.add(
                tenant=item.tenant,
                agent=agent or item.agent,
                request_id=item.request_id,
                question=item.question,
                answer=answer,
                vector=vector,
            )
        except StoreError as exc:
            log.warning("knowledge gap not recorded", extra={"error": exc.message})
            return False
